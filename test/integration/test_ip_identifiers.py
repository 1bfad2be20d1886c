"""Issue 11, test 3: IP address identifiers (RFC 8738) through pebble 2.10, which validates an
"ip" identifier by connecting to the address itself (httpPort for http-01, tlsPort for
tls-alpn-01 with the reverse-DNS name as SNI).

  - a VirtualHost whose ServerName is 127.0.0.1 and ServerAlias ::1, with ACMEProfile set,
    gets a certificate carrying both as iPAddress SANs (http-01; httpd also listens on ::1);
  - the same with ACMEChallenges tls-alpn-01 (the responder maps 1.0.0.127.in-addr.arpa back
    to the address);
  - without ACMEProfile the address is left out with a warning naming ACMEProfile, and no
    order with an "ip" identifier is sent.

Real pebble, no proxy, no fault injected."""

import pytest

import harness
from harness import VHost

PROFILES = {
    "default": {"description": "test default profile", "validityPeriod": 3600},
    "shortlived": {"description": "test short-lived profile", "validityPeriod": 1800},
}


def _ipv6_listen(ports):
    return ["Listen [::1]:%d" % ports[0], "Listen [::1]:%d https" % ports[1]]


def _wait_ip_cert(httpd, peb, want_ips, timeout=90):
    """Wait until the https port (no SNI: an address is never sent as SNI) serves a pebble
    certificate; it must verify and carry exactly want_ips as IP SANs and no DNS SAN."""
    roots = peb.roots()

    def issued():
        c = harness.fetch_cert(httpd.https_port, None)
        if c.is_fallback or c.self_signed:
            return None
        ok, out = harness.verify(c, roots)
        if not ok:
            raise harness.WaitAbort("served certificate does not verify: %s\n%s" % (out, c.text))
        return c
    c = httpd.wait_for(issued, timeout, interval=0.5, what="a pebble certificate for %s"
                       % " ".join(want_ips))
    assert c.san_ips == sorted(want_ips), c.text
    assert c.sans == [], c.text
    return c


@pytest.mark.pebble210
def test_ip_vhost_http01(pebble_factory, httpd_factory, ports):
    """127.0.0.1 and ::1 in one vhost, http-01: the served certificate has both IP SANs."""
    peb = pebble_factory(extra_config={"profiles": PROFILES})
    v = VHost("127.0.0.1", aliases=["::1"], lines=["ACMEProfile shortlived"])
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file),
                          global_lines=_ipv6_listen(ports))
    c = _wait_ip_cert(httpd, peb, ["127.0.0.1", "0:0:0:0:0:0:0:1"])
    # pebble validated each address over http-01 by connecting to it
    assert peb.count(r"Attempting to validate w/ HTTP") >= 2, harness.tail(peb.logfile)
    # served over IPv6 too
    c6 = harness.fetch_cert(httpd.https_port, None, host="::1")
    assert c6.serial == c.serial


@pytest.mark.pebble210
def test_ip_vhost_tlsalpn01(pebble_factory, httpd_factory):
    """ACMEChallenges tls-alpn-01: pebble's handshake names 1.0.0.127.in-addr.arpa; the
    challenge certificate it gets back carries the address, and the issued one too."""
    peb = pebble_factory(extra_config={"profiles": PROFILES})
    v = VHost("127.0.0.1", lines=["ACMEProfile shortlived", "ACMEChallenges tls-alpn-01"])
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file))
    _wait_ip_cert(httpd, peb, ["127.0.0.1"])
    assert httpd.log_entries(r"tls-alpn-01: answering a challenge for "
                             r"1\.0\.0\.127\.in-addr\.arpa"), httpd.diagnostics()
    assert peb.count(r"Attempting to validate w/ HTTP") == 0


@pytest.mark.pebble210
def test_ip_without_profile_left_out(pebble_factory, httpd_factory):
    """No ACMEProfile: the address is left out with a warning that names ACMEProfile; the
    DNS name of the same vhost is still certified, without the address."""
    peb = pebble_factory(extra_config={"profiles": {"default": PROFILES["default"]}})
    v = VHost("ipmix.mod-acme.test", aliases=["127.0.0.1"])
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file))
    c, _ = httpd.wait_for_cert("ipmix.mod-acme.test", peb, timeout=90,
                               names=["ipmix.mod-acme.test"])
    assert c.san_ips == []
    assert httpd.log_entries(r"127\.0\.0\.1: an IP address is certified only with a profile "
                             r"that allows it: set ACMEProfile"), httpd.diagnostics()


def test_ip_without_profile_configtest_warns(httpd_factory, pebble):
    """apachectl configtest (no CA contacted) warns about an address without ACMEProfile,
    names file and line, and says nothing about one with a profile."""
    bare = VHost("127.0.0.1")
    prof = VHost("ipprof.mod-acme.test", aliases=["::1"], lines=["ACMEProfile shortlived"])
    httpd = httpd_factory([bare, prof], harness.acme_lines(pebble, pebble.ca_file), start=False)
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    warn = [line for line in out.splitlines() if "ACME00551" in line]
    assert len(warn) == 1, out
    assert "127.0.0.1 is left out of the certificate" in warn[0] and "ACMEProfile" in warn[0]
    assert "%s:" % httpd.conf in warn[0], warn[0]
