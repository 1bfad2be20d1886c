"""Issue 8, test 2: a per-vhost setting applies to the certificate of the vhost it is
written in, whatever the order of the vhosts.

- Issuance (real pebble, one httpd, four certificates): for each per-vhost directive the
  https vhost's value wins over its plain-http twin (same names), with the https vhost first
  or last in the file and with the twin silent or saying something else. Seen in the served
  certificate (key type), in the plan's renewal time (ACMERenewWindow), in the challenge types
  used (ACME00060) and in the start-up line that says where each setting came from
  (ACME00121: ACMEWarnWindow, ACMEDNSHook, ACMEDNSPropagationTimeout, ACMEDNSResolver).
- Configtest only (nothing started): two https vhosts with the same names and different
  values fail `apache2 -t` naming the directive and both <VirtualHost> places; the same
  values pass; an https vhost and a plain-http twin with different values pass."""

import re
import subprocess
import time

import pytest

import harness
from harness import VHost

# directive -> (value the https vhost writes, a different value for twins and conflicts,
#               how ACME00121 prints the https value)
SETTINGS = {
    "ACMEKeyTypes": ("rsa2048", "p384", "rsa2048"),
    "ACMERenewWindow": ("10d", "20d", "10d"),
    "ACMEWarnWindow": ("5d", "9%", "5d"),
    "ACMEChallenges": ("http-01", "tls-alpn-01", "http-01"),
    "ACMEDNSHook": ("/bin/true --zone x", "/bin/false", "/bin/true --zone x"),
    "ACMEDNSPropagationTimeout": ("7s", "9s", "7s"),
    "ACMEDNSResolver": ("127.0.0.1:5353", "127.0.0.2", "127.0.0.1:5353"),
    "ACMEProfile": ("shortlived", "tlsserver mandatory", "shortlived"),
}


def lines_with(which):
    return ["%s %s" % (d, v[which]) for d, v in SETTINGS.items()]


HTTPS_LINES = lines_with(0)
OTHER_LINES = lines_with(1)


def vhost_places(httpd):
    """[(line number of <VirtualHost>, port, ServerName)] in file order."""
    out = []
    with open(httpd.conf) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<VirtualHost \*:(\d+)>", line.strip())
        if m:
            name = re.match(r"\s*ServerName (\S+)", lines[i + 1]).group(1)
            out.append((i + 1, int(m.group(1)), name))
    return out


def https_line(httpd, name):
    return [ln for ln, port, n in vhost_places(httpd)
            if n == name and port == httpd.https_port][0]


def key_description(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(),
                         capture_output=True, check=True).stdout.decode()
    return (re.search(r"Public Key Algorithm: (\S+)", out).group(1),
            int(re.search(r"Public-Key: \((\d+) bit\)", out).group(1)))


def rfc3339(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


# the four orders: (name, vhosts in file order)
def pairs():
    a, b, c, d = ("pv-%s.mod-acme.test" % x for x in ("a", "b", "c", "d"))
    return [
        (a, [VHost(a, lines=HTTPS_LINES), VHost(a, ssl=False)]),                 # https first
        (b, [VHost(b, ssl=False), VHost(b, lines=HTTPS_LINES)]),                 # http first
        (c, [VHost(c, lines=HTTPS_LINES), VHost(c, ssl=False, lines=OTHER_LINES)]),
        (d, [VHost(d, ssl=False, lines=OTHER_LINES), VHost(d, lines=HTTPS_LINES)]),
    ]


def test_https_vhost_settings_win_either_order(httpd_factory, pebble, acme_config, timing):
    vhosts = [v for _, vs in pairs() for v in vs]
    httpd = httpd_factory(vhosts, acme_config)
    t0 = time.monotonic()
    for name, _ in pairs():
        cert, _ = httpd.wait_for_cert(name, pebble, timeout=90, names=[name])
        assert key_description(cert.pem) == ("rsaEncryption", 2048), (name, cert.text)
    timing("4 certificates with per-vhost settings", time.monotonic() - t0)
    # the generation that serves them: where each setting came from, and what it did
    httpd.wait_for(lambda: all(httpd.log_entries(
        r"ACME00011: certificate %s \(.*valid until .*; renews from" % re.escape(n))
        for n, _ in pairs()), 60, what="the plans of the activated certificates")
    for name, _ in pairs():
        place = "VirtualHost at %s:%d" % (httpd.conf, https_line(httpd, name))
        lines = [l for _, l in httpd.log_entries(r"ACME00121: certificate %s:" % re.escape(name))]
        assert lines, httpd.diagnostics()
        for directive, (_, _, shown) in SETTINGS.items():
            want = "%s %s (%s)" % (directive, shown, place)
            assert want in lines[-1], "%s: expected %r in\n%s" % (name, want, lines[-1])
        chall = [l for _, l in httpd.log_entries(
            r"ACME00060: certificate %s: challenge types" % re.escape(name))]
        assert chall and "challenge types http-01 (ACMEChallenges)" in chall[-1], chall
        plan = httpd.log_entries(r"ACME00011: certificate %s \(.*renews from" % re.escape(name))
        m = re.search(r"valid until (\S+); renews from (\S+?);? ", plan[-1][1] + " ")
        assert m, plan[-1][1]
        window = rfc3339(m.group(1)) - rfc3339(m.group(2))
        # ACMERenewWindow 10d: renewal starts 10 days before expiry, moved later by a stable
        # per-certificate offset of at most a tenth of the window (renewals are spread out)
        assert 9 * 86400 <= window <= 10 * 86400, \
            "%s: renews %.1f days before expiry, not within the 10-day window's first tenth:\n%s" % (
                name, window / 86400, plan[-1][1])
        assert pebble.count(r"Attempting to validate w/ HTTP: http://%s:" % re.escape(name)) >= 1


# ---- configtest only -------------------------------------------------------------------

NAME = "pvc.mod-acme.test"
BASE = ["ACMEServer https://127.0.0.1:14000/dir", "ACMEContact admin@example.org",
        "ACMEAgreeTerms on", "ACME on"]


def configtest(httpd_factory, vhosts):
    httpd = httpd_factory(vhosts, BASE, start=False)
    rc, out = httpd.configtest()
    print(out)
    assert rc >= 0, "apache2 -t died of signal %d:\n%s" % (-rc, out)
    return httpd, rc, out


@pytest.mark.parametrize("directive", list(SETTINGS))
def test_two_https_vhosts_conflict_fails_naming_both(httpd_factory, directive):
    mine, other, _ = SETTINGS[directive]
    httpd, rc, out = configtest(httpd_factory, [
        VHost(NAME, aliases=["www." + NAME], lines=["%s %s" % (directive, mine)]),
        VHost(NAME, ssl=False),
        VHost("WWW." + NAME, aliases=[NAME], lines=["%s %s" % (directive, other)])])
    assert rc != 0 and "Syntax OK" not in out, out
    err = [l for l in out.splitlines() if "ACME00120" in l]
    assert len(err) == 1, out
    places = [ln for ln, port, _ in vhost_places(httpd) if port == httpd.https_port]
    assert len(places) == 2
    for ln in places:
        assert "%s:%d" % (httpd.conf, ln) in err[0], err[0]
    assert re.search(r"(?<![\w-])%s(?![\w-])" % directive, err[0]), err[0]


def test_same_settings_pass(httpd_factory):
    _, rc, out = configtest(httpd_factory, [
        VHost(NAME, lines=HTTPS_LINES), VHost(NAME, ssl=False),
        VHost(NAME, lines=list(reversed(HTTPS_LINES))),
        VHost(NAME, lines=HTTPS_LINES[:2])])   # unset values are no conflict
    assert rc == 0 and "Syntax OK" in out and "ACME00120" not in out, out


@pytest.mark.parametrize("order", ["https-first", "http-first"])
def test_https_and_plain_twin_differing_pass(httpd_factory, order):
    vs = [VHost(NAME, lines=HTTPS_LINES), VHost(NAME, ssl=False, lines=OTHER_LINES)]
    if order == "http-first":
        vs.reverse()
    _, rc, out = configtest(httpd_factory, vs)
    assert rc == 0 and "Syntax OK" in out and "ACME00120" not in out, out


def test_plain_twins_conflict_when_they_decide(httpd_factory):
    """Without a value from the https vhost, the plain-http twins' value applies: two that
    disagree are a conflict too; without any https vhost there is no certificate and no
    conflict."""
    twins = [VHost(NAME, ssl=False, lines=["ACMEKeyType p384"]),
             VHost(NAME, ssl=False, lines=["ACMEKeyType rsa2048"])]
    httpd, rc, out = configtest(httpd_factory, twins + [VHost(NAME)])
    assert rc != 0 and "ACME00120" in out and "ACMEKeyType" in out, out
    httpd.stop()
    _, rc, out = configtest(httpd_factory, twins)
    assert rc == 0 and "Syntax OK" in out, out


def test_vhost_with_own_certificate_takes_no_part(httpd_factory, workdir):
    """An https vhost with its own SSLCertificateFile gets no certificate from us: its
    settings cannot conflict with the managed vhost's."""
    cert, key = harness.make_self_signed(workdir + "/own", [NAME])
    _, rc, out = configtest(httpd_factory, [
        VHost(NAME, lines=["ACMEKeyType rsa2048"]),
        VHost(NAME, lines=["ACMEKeyType p384", "SSLCertificateFile %s" % cert,
                           "SSLCertificateKeyFile %s" % key])])
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("case,ok", [("no-hook", False), ("hook-in-https", True),
                                     ("hook-in-twin", True), ("hook-global", True),
                                     ("also-http-01", True)])
def test_dns01_only_needs_a_hook(httpd_factory, case, ok):
    """ACMEChallenges dns-01 alone without an ACMEDNSHook for that certificate can never
    work: configtest fails naming ACMEChallenges and its line. The hook may come from the
    https vhost, its plain-http twin (the rule above) or the server config."""
    chall = "ACMEChallenges dns-01 http-01" if case == "also-http-01" else "ACMEChallenges dns-01"
    hook = "ACMEDNSHook /bin/true"
    vs = [VHost(NAME, lines=[chall] + ([hook] if case == "hook-in-https" else [])),
          VHost(NAME, ssl=False, lines=[hook] if case == "hook-in-twin" else [])]
    httpd = httpd_factory(vs, BASE + ([hook] if case == "hook-global" else []), start=False)
    rc, out = httpd.configtest()
    print(out)
    if ok:
        assert rc == 0 and "Syntax OK" in out, out
    else:
        assert 0 < rc < 128 and "ACME00125" in out, out
        assert "ACMEChallenges on line %d of %s" % (httpd.line_of(chall), httpd.conf) in out
        assert "ACMEDNSHook" in out
