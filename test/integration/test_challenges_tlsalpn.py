"""Issue 4, test 1: tls-alpn-01 only (ACMEChallenges tls-alpn-01).

pebble's tlsPort is httpd's https port (conftest: ports fixture). The certificate is issued
and served; pebble never validates over HTTP; normal TLS clients (no ALPN, or http/1.1) never
get a certificate with the acmeIdentifier extension while the challenge is pending, whereas a
client offering acme-tls/1 does (the positive control: it proves the loop really ran while a
challenge was pending, so that the check of the normal clients means something)."""

import hashlib
import re
import ssl
import time

import pytest

import harness
from harness import VHost
import challenge_helpers as ch

NAME = "alpn.mod-acme.test"
NAMES = [NAME, "www." + NAME]


@pytest.mark.compat
def test_tlsalpn01_only(httpd_factory, pebble, acme_config, ports, timing):
    assert pebble.tls_port == ports[1], "pebble's tlsPort must be httpd's https port"
    vhosts = [VHost(NAME, aliases=NAMES[1:], lines=["ACMEChallenges tls-alpn-01"])]
    mark = pebble.mark()
    t0 = time.monotonic()
    httpd = httpd_factory(vhosts, acme_config)
    roots = pebble.roots()

    normal = {"none": 0, "http/1.1": 0}
    bad = []             # (sni, alpn, subject) of challenge certificates normal clients got
    errors = {}          # handshake errors by kind (e.g. during the graceful restart)
    control = {n: {} for n in NAMES}   # sha256(der) -> der of challenge certs via acme-tls/1
    hits = {n: 0 for n in NAMES}       # acme-tls/1 handshakes that got a challenge certificate
    control_tries = 0
    issued = None
    seen_verified = {}
    deadline = t0 + 75
    for i in range(20000):
        if time.monotonic() > deadline:
            break
        for sni in NAMES:
            for alpn in (None, ["http/1.1"]):
                key = "none" if alpn is None else alpn[0]
                try:
                    der, _proto = ch.handshake_der(httpd.https_port, sni, alpn)
                except (OSError, ssl.SSLError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                normal[key] += 1
                if ch.has_acme_identifier(der):
                    bad.append((sni, key, ch.der_to_info(der).subject))
                    continue
                if sni == NAME and alpn is None and issued is None:
                    c = ch.der_to_info(der)
                    if not c.is_fallback and not c.self_signed:
                        if c.serial not in seen_verified:
                            seen_verified[c.serial] = harness.verify(c, roots)
                        if seen_verified[c.serial][0]:
                            issued = c
            # positive control: a client offering acme-tls/1, like the CA's validator
            control_tries += 1
            try:
                der, proto = ch.handshake_der(httpd.https_port, sni, ["acme-tls/1"])
                if ch.has_acme_identifier(der):
                    hits[sni] += 1
                    control[sni][hashlib.sha256(der).hexdigest()] = (der, proto)
            except (OSError, ssl.SSLError) as exc:
                errors["acme-tls/1 " + type(exc).__name__] = \
                    errors.get("acme-tls/1 " + type(exc).__name__, 0) + 1
        if issued is not None:
            break
        time.sleep(0.002)
    elapsed = time.monotonic() - t0
    timing("tls-alpn-01: start -> pebble certificate served", elapsed)
    print("handshakes: normal %r, acme-tls/1 %d (challenge certificate: %r), errors %r, "
          "%d loop rounds" % (normal, control_tries, hits, errors, i + 1))
    assert not bad, "normal TLS clients got the challenge certificate: %r" % bad[:10]
    assert issued is not None, "no pebble certificate served for %s after %.0f s\n%s" % (
        NAME, elapsed, httpd.diagnostics())
    assert sum(normal.values()) >= 20, normal

    # the certificate: exactly the names, verifies, served for each name, https works
    cert, _ = httpd.wait_for_cert(NAME, pebble, timeout=10, names=NAMES)
    for n in NAMES:
        assert httpd.cert(n).serial == cert.serial
        r = httpd.get("/", n, tls=True)
        assert r.status == 200 and ("https %s" % NAME) in r.text, r

    # the positive control saw a correct challenge certificate for every name
    for n in NAMES:
        assert control[n], ("no acme-tls/1 handshake for %s ever got a challenge certificate "
                            "(%d tries): the loop proves nothing" % (n, control_tries))
        for der, proto in control[n].values():
            c = ch.der_to_info(der)
            critical, text = ch.acme_identifier_critical(der)
            assert proto == "acme-tls/1", "challenge certificate without ALPN acme-tls/1: %r" % (
                proto,)
            assert c.self_signed, c
            assert c.sans == [n], "challenge certificate for %s has SANs %r" % (n, c.sans)
            assert critical, "acmeIdentifier extension not critical:\n%s" % text

    # the module answered the CA's validator too: more ACME00063 lines per name than our own
    # client's hits (pebble 2.4 logs no challenge type, only "Starting 3 validations.")
    for n in NAMES:
        answered = len(httpd.log_entries(
            r"ACME00063: tls-alpn-01: answering a challenge for %s$" % re.escape(n)))
        assert answered >= hits[n] + 1, (
            "%s: %d ACME00063 lines, but our own acme-tls/1 client got the challenge "
            "certificate %d times: the CA's validation was not answered" % (n, answered, hits[n]))

    # the choice, and pebble never tried http-01
    chosen = ch.acme_lines(httpd, "00060")
    assert any(re.search(r"certificate %s: challenge types tls-alpn-01 \(ACMEChallenges\)"
                         % re.escape(NAME), line) for line in chosen), chosen
    log = pebble.log_text()[mark:]
    assert "Attempting to validate w/ HTTP" not in log, [
        line for line in log.splitlines() if "validate w/ HTTP" in line][:5]
    assert not re.search(r"/\.well-known/acme-challenge/", open(httpd.access_log_file).read())

    # after the challenge: acme-tls/1 clients get no challenge certificate any more
    for n in NAMES:
        try:
            der, _ = ch.handshake_der(httpd.https_port, n, ["acme-tls/1"])
        except (OSError, ssl.SSLError):
            continue
        assert not ch.has_acme_identifier(der), "challenge certificate for %s left behind" % n
    assert httpd.running()
