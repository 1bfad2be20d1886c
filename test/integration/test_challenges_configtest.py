"""Issue 4, test 6: `apache2 -t` and the challenge directives.

Bad values of ACMEChallenges, ACMEDNSHook, ACMEDNSPropagationTimeout, ACMEDNSResolver and
ACMEPortMap fail with httpd's "Syntax error on line N of FILE:" and a message naming the
directive; good values pass in both contexts. A wildcard ServerAlias without ACMEDNSHook: the
configtest passes and prints the ACME00064 warning, and the certificate is issued for the
other names."""

import os
import re

import pytest

import harness
from harness import VHost

NAME = "cfgc.mod-acme.test"


@pytest.fixture
def ca_file(workdir):
    path = os.path.join(workdir, "some-ca.pem")
    if not os.path.exists(path):
        cert, _ = harness.make_self_signed(os.path.join(workdir, "ca"), ["ca.mod-acme.test"])
        os.replace(cert, path)
    return path


def base_lines(ca_file):
    return ["ACMEServer https://127.0.0.1:14000/dir", 'ACMEServerCAFile "%s"' % ca_file,
            "ACMEContact admin@example.org", "ACMEAgreeTerms on", "ACME on"]


# (id, directive, bad line, where)
BAD = [
    ("challenges-unknown", "ACMEChallenges", "ACMEChallenges http-02", "global"),
    ("challenges-unknown-vhost", "ACMEChallenges", "ACMEChallenges dns-01 tls-sni-01", "vhost"),
    ("challenges-twice", "ACMEChallenges", "ACMEChallenges http-01 http-01", "vhost"),
    ("challenges-empty", "ACMEChallenges", "ACMEChallenges", "global"),
    ("hook-relative", "ACMEDNSHook", "ACMEDNSHook hooks/dns.sh setup", "global"),
    ("hook-relative-vhost", "ACMEDNSHook", "ACMEDNSHook dns.sh", "vhost"),
    ("hook-empty", "ACMEDNSHook", "ACMEDNSHook", "vhost"),
    ("propagation-word", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout soon", "global"),
    ("propagation-negative", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout -5s",
     "vhost"),
    ("propagation-unit", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout 5x", "global"),
    ("resolver-name", "ACMEDNSResolver", "ACMEDNSResolver dns.example.org", "global"),
    ("resolver-ipv6", "ACMEDNSResolver", "ACMEDNSResolver ::1", "vhost"),
    ("resolver-port-range", "ACMEDNSResolver", "ACMEDNSResolver 127.0.0.1:99999", "global"),
    ("resolver-port-empty", "ACMEDNSResolver", "ACMEDNSResolver 127.0.0.1:", "global"),
    ("resolver-octet", "ACMEDNSResolver", "ACMEDNSResolver 300.1.2.3", "global"),
    ("portmap-no-colon", "ACMEPortMap", "ACMEPortMap 8080", "global"),
    ("portmap-public-81", "ACMEPortMap", "ACMEPortMap 81:8080", "global"),
    ("portmap-zero", "ACMEPortMap", "ACMEPortMap 80:0", "global"),
    ("portmap-range", "ACMEPortMap", "ACMEPortMap 443:70000", "global"),
    ("portmap-word", "ACMEPortMap", "ACMEPortMap 80:8080 443:https", "global"),
    ("portmap-in-vhost", "ACMEPortMap", "ACMEPortMap 80:8080", "vhost"),
]


def _httpd(httpd_factory, lines, vhost_lines=(), aliases=()):
    return httpd_factory([VHost(NAME, aliases=list(aliases), lines=list(vhost_lines)),
                          VHost(NAME, ssl=False)], lines, start=False)


def test_good_values_pass(httpd_factory, ca_file):
    hook = "/bin/true"   # must exist and be executable by the User: configtest checks it
    glob = base_lines(ca_file) + [
        "ACMEChallenges tls-alpn-01 dns-01 http-01", "ACMEDNSHook %s --zone example.org" % hook,
        "ACMEDNSPropagationTimeout 0", "ACMEDNSResolver 127.0.0.1", "ACMEPortMap 80:8080 443:8443"]
    vh = ["ACMEChallenges dns-01", 'ACMEDNSHook %s "two words"' % hook,
          "ACMEDNSPropagationTimeout 90s", "ACMEDNSResolver 192.0.2.53:5353"]
    for g, v in ((glob, vh), (glob, []), (base_lines(ca_file), vh)):
        httpd = _httpd(httpd_factory, g, v)
        rc, out = httpd.configtest()
        assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("directive,bad,where", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_value_fails_configtest(httpd_factory, ca_file, directive, bad, where):
    if where == "global":
        httpd = _httpd(httpd_factory, base_lines(ca_file) + [bad])
    else:
        httpd = _httpd(httpd_factory, base_lines(ca_file), [bad])
    lineno = httpd.line_of(bad)
    rc, out = httpd.configtest()
    print(out)
    assert rc != 0, "apache2 -t accepted %r:\n%s" % (bad, out)
    assert "Syntax OK" not in out
    marker = "line %d of %s:" % (lineno, httpd.conf)
    assert marker in out, "expected 'Syntax error on %s' in:\n%s" % (marker, out)
    message = out[out.index(marker) + len(marker):]
    assert re.search(r"(?<![\w-])%s(?![\w-])" % directive, message), \
        "the message does not name %s:\n%s" % (directive, out)
    assert "Invalid command" not in message, out


def test_wildcard_without_hook_configtest_warns(httpd_factory, ca_file):
    httpd = _httpd(httpd_factory, base_lines(ca_file), aliases=["www." + NAME, "*." + NAME])
    rc, out = httpd.configtest()
    print(out)
    assert rc == 0 and "Syntax OK" in out, out
    warn = [l for l in out.splitlines() if "ACME00064" in l]
    assert len(warn) == 1, out
    assert "*." + NAME in warn[0] and "ACMEDNSHook" in warn[0], warn
    # with a hook (here: in the server config) the wildcard is kept: no warning
    httpd = _httpd(httpd_factory, base_lines(ca_file) + ["ACMEDNSHook /bin/true"],
                   aliases=["*." + NAME])
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out and "ACME00064" not in out, out


def test_wildcard_without_hook_left_out_of_certificate(httpd_factory, pebble, acme_config,
                                                       timing):
    v = VHost("wc.mod-acme.test", aliases=["*.wc.mod-acme.test", "www.wc.mod-acme.test"])
    httpd = httpd_factory([v], acme_config)
    cert, waited = httpd.wait_for_cert(v.name, pebble, timeout=60,
                                       names=["wc.mod-acme.test", "www.wc.mod-acme.test"])
    timing("wildcard left out: served", waited)
    assert "*.wc.mod-acme.test" not in cert.sans
    # the start-up log says it too
    assert re.search(r"\*\.wc\.mod-acme\.test.*(ACMEDNSHook|dns-01)", httpd.error_log()), \
        httpd.diagnostics()
    assert pebble.count(r"Attempting to validate w/ HTTP: http://www\.wc\.mod-acme\.test:") >= 1
