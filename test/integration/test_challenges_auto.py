"""Issue 4, tests 4 and 5: the automatic choice of challenge types (no ACMEChallenges), and
ACMEChallenges listing only types the CA does not offer (or the module cannot answer) for an
identifier.

httpd listens on two high ports; ACMEPortMap tells the module which of them the public ports
80/443 reach. pebble's httpPort/tlsPort are httpd's ports whatever the module chooses, so
which type pebble validated is read from its log (http-01: "Attempting to validate w/ HTTP")
and from the module's answers (ACME00021 http-01, ACME00063 tls-alpn-01, the hook's records
for dns-01)."""

import os
import re
import time

import harness
from harness import VHost
import challenge_helpers as ch


def _validated_http(pebble, name, since):
    return pebble.count(r"Attempting to validate w/ HTTP: http://%s:" % re.escape(name), since)


def _choice(httpd, name):
    lines = [l for l in ch.acme_lines(httpd, "00060")
             if re.search(r"certificate %s: challenge types" % re.escape(name), l)]
    assert lines, "no ACME00060 line for %s:\n%s" % (name, httpd.diagnostics())
    m = re.search(r"challenge types (.*?) \((.*)\)$", lines[-1])
    assert m, lines[-1]
    return [t.strip() for t in m.group(1).split(",")], m.group(2), lines[-1]


def test_auto_port80_mapped_http01(httpd_factory, pebble, acme_config, ports, timing):
    name = "auto-http.mod-acme.test"
    mark = pebble.mark()
    httpd = httpd_factory([VHost(name)], acme_config + ["ACMEPortMap 80:%d" % ports[0]])
    cert, waited = httpd.wait_for_cert(name, pebble, timeout=60, names=[name])
    timing("automatic http-01: served", waited)
    types, why, line = _choice(httpd, name)
    print(line)
    assert types == ["http-01"], line
    assert why.startswith("automatic") and "listening on %d (public port 80)" % ports[0] in why, \
        line
    assert _validated_http(pebble, name, mark) >= 1, "pebble did not validate over HTTP"
    assert ch.acme_lines(httpd, r"00021: http-01: answering a challenge for host %s"
                         % re.escape(name))
    assert not ch.acme_lines(httpd, "00063"), "tls-alpn-01 answered although http-01 was chosen"
    # the reason reads like the other cases ("(automatic: listening on N (public port 443))")
    assert not re.search(r";\s*$", why), "dangling separator in the ACME00060 reason: %r" % line


def test_auto_port443_mapped_tlsalpn01(httpd_factory, pebble, acme_config, ports, timing):
    name = "auto-alpn.mod-acme.test"
    unused = harness.free_port()   # the public port 80 reaches a port httpd does not listen on
    mark = pebble.mark()
    httpd = httpd_factory([VHost(name)], acme_config + [
        "ACMEPortMap 80:%d 443:%d" % (unused, ports[1])])
    cert, waited = httpd.wait_for_cert(name, pebble, timeout=60, names=[name])
    timing("automatic tls-alpn-01: served", waited)
    types, why, line = _choice(httpd, name)
    print(line)
    assert types == ["tls-alpn-01"], line
    assert why.startswith("automatic") and "listening on %d (public port 443)" % ports[1] in why, \
        line
    assert "public port 80" not in why, line
    assert _validated_http(pebble, name, mark) == 0, "pebble validated over HTTP"
    assert ch.acme_lines(httpd, r"00063: tls-alpn-01: answering a challenge for %s"
                         % re.escape(name)), "no tls-alpn-01 answer logged"
    assert not ch.acme_lines(httpd, "00021"), "http-01 answered although tls-alpn-01 was chosen"


def test_auto_wildcard_with_hook_dns01_first(httpd_factory, pebble, challtestsrv, acme_config,
                                             workdir, ports, timing):
    """Hook in the server config with arguments (one with a space); no ACMEChallenges, both
    ports mapped: dns-01 comes first, so the wildcard and the apex both use it."""
    apex = "w4.mod-acme.test"
    hook = ch.DnsHook(os.path.join(workdir, "hook-auto"), challtestsrv)
    args = ["--zone", "mod-acme.test", "two words"]
    mark = pebble.mark()
    httpd = httpd_factory([VHost(apex, aliases=["*." + apex])], acme_config + [
        "ACMEPortMap 80:%d 443:%d" % ports,
        'ACMEDNSHook %s --zone mod-acme.test "two words"' % hook.path,
        "ACMEDNSResolver 127.0.0.1:%d" % challtestsrv.dns_port,
        "ACMEDNSPropagationTimeout 20s"])
    cert, waited = httpd.wait_for_cert(apex, pebble, timeout=60, names=[apex, "*." + apex])
    timing("automatic dns-01 (wildcard + apex): served", waited)
    types, why, line = _choice(httpd, apex)
    print(line)
    assert types == ["dns-01", "http-01", "tls-alpn-01"], line
    assert "ACMEDNSHook" in why, line
    assert _validated_http(pebble, apex, mark) == 0, "the apex was validated over HTTP"
    from test_challenges_dns import check_hook_pairs
    check_hook_pairs(hook, apex, 2, args=args)
    print(hook.describe())
    assert harness.verify_served(httpd.https_port, "any." + apex, pebble.root_file()) is None


def test_no_usable_challenge(httpd_factory, pebble, challtestsrv, acme_config, workdir, timing):
    """(a) a wildcard with a hook but ACMEChallenges http-01: the CA offers only dns-01 for it:
    fails with an error naming what the CA offers and what is allowed; the hook never runs; a
    third certificate is unaffected. (b) ACMEChallenges dns-01 without a hook can never work:
    configtest (and so the start) fails naming ACMEChallenges, its line and ACMEDNSHook."""
    hook = ch.DnsHook(os.path.join(workdir, "hook-unused"), challtestsrv)
    wild = VHost("mw.mod-acme.test", aliases=["*.mw.mod-acme.test"],
                 lines=["ACMEChallenges http-01", "ACMEDNSHook %s" % hook.path])
    nohook = VHost("md.mod-acme.test", lines=["ACMEChallenges dns-01"])
    ok = VHost("mok.mod-acme.test")
    httpd = httpd_factory([wild, nohook, ok], acme_config, start=False)
    rc, out = httpd.configtest()
    assert rc > 0 and "Syntax OK" not in out, out
    assert re.search(r"ACME00125: ACMEChallenges on line %d of %s, for the certificate of "
                     r"md\.mod-acme\.test: .*ACMEDNSHook" % (httpd.line_of(
                         "ACMEChallenges dns-01"), re.escape(httpd.conf)), out), out
    t0 = time.monotonic()
    httpd = httpd_factory([wild, ok], acme_config)
    ch.wait_log(httpd, r"ACME00031.*mw\.mod-acme\.test", 30)
    timing("no usable challenge: both errors logged", time.monotonic() - t0)
    errs = ch.acme_lines(httpd, "00031")
    print("\n".join(errs))
    w = [l for l in errs if "mw.mod-acme.test" in l]
    # pebble 2.4 offers dns-01 for a wildcard, 2.10 also dns-account-01 and dns-persist-01
    assert any(re.search(r"no usable challenge for \*\.mw\.mod-acme\.test: the CA offers "
                         r"(?:[a-z0-9-]+, )*dns-01(?:, [a-z0-9-]+)*; allowed: http-01\b", l)
               for l in w), w
    assert hook.records() == [], "the hook ran:\n" + hook.describe()
    assert httpd.cert(wild.name).is_fallback
    httpd.wait_for_cert(ok.name, pebble, timeout=max(5.0, 60 - (time.monotonic() - t0)),
                        names=[ok.name])
