"""Issue 11, tests 4 and 5: name groups (ACMEDomain) and the automatic split of a group with
more names than one certificate may carry (100; 25 with a profile other than classic).

  - ACMEDomain grouping two vhosts' names: one certificate, both vhosts serve the same serial;
    removing it orders one certificate per vhost;
  - 130 names over three vhosts in one ACMEDomain, limit 100: split into two certificates, and
    every one of the 130 names (SNI) is served a valid certificate that holds it;
  - 30 names over two vhosts in one ACMEDomain with ACMEProfile tlsserver (25 names), against
    pebble 2.10's own profiles: split, every name served;
  - configtest: a vhost whose names are in two ACMEDomain lines, a name in two lines, and
    ACMEDomain inside <VirtualHost> are clear errors (no CA needed).

Real pebble, no proxy. Few vhosts with many aliases keep the run short (PEBBLE_VA_NOSLEEP)."""

import time

import pytest

import harness
from harness import VHost

SUFFIX = "grp.mod-acme.test"


def _vhost(label, n, lines=()):
    """A vhost with n names: LABEL0.SUFFIX (ServerName) .. LABEL<n-1>.SUFFIX."""
    names = ["%s%d.%s" % (label, i, SUFFIX) for i in range(n)]
    return VHost(names[0], aliases=names[1:], lines=list(lines))


def _serve_all(httpd, pebble, vhosts, limit, timeout):
    """Wait until every name of every vhost is served a pebble certificate that verifies and
    holds all names of its vhost; returns {vhost name: CertInfo}."""
    roots = pebble.roots()
    verified = {}
    served = {}
    for v in vhosts:
        c, _ = httpd.wait_for_cert(v.name, pebble, timeout=timeout)
        served[v.name] = c
    for v in vhosts:
        for name in v.names:
            c = httpd.cert(name)
            assert not c.is_fallback and not c.self_signed, "SNI %s: fallback served" % name
            if c.serial not in verified:
                verified[c.serial] = harness.verify(c, roots)
            assert verified[c.serial][0], verified[c.serial][1]
            assert name in c.sans, "SNI %s: served %s without it" % (name, c.serial)
            assert set(n.lower() for n in v.names) <= set(c.sans), \
                "SNI %s: certificate %s lacks names of its vhost" % (name, c.serial)
            assert len(c.sans) <= limit, "certificate %s has %d names" % (c.serial, len(c.sans))
            assert c.serial == served[v.name].serial, \
                "SNI %s: another certificate than its vhost's ServerName" % name
    return served


def test_acmedomain_two_vhosts_one_certificate(pebble, acme_config, httpd_factory, timing):
    """ACMEDomain a b: the vhosts for a and for b serve one certificate (same serial) with
    both names, and only one order was made."""
    a, b = VHost("a.%s" % SUFFIX), VHost("b.%s" % SUFFIX, aliases=["www.b.%s" % SUFFIX])
    httpd = httpd_factory([a, b], acme_config + [
        "ACMEDomain a.%s b.%s" % (SUFFIX, SUFFIX)])
    t0 = time.monotonic()
    ca, _ = httpd.wait_for_cert(a.name, pebble, timeout=90, names=a.names + b.names)
    cb, _ = httpd.wait_for_cert(b.name, pebble, timeout=30, names=a.names + b.names)
    timing("ACMEDomain over two vhosts: start -> served", time.monotonic() - t0)
    assert ca.serial == cb.serial, (ca.serial, cb.serial)
    assert httpd.cert("www.b.%s" % SUFFIX).serial == ca.serial
    log = httpd.error_log()
    assert "certificate a.%s (" % SUFFIX in log, log[-3000:]
    assert "certificate b.%s (" % SUFFIX not in log, "a second certificate was planned"


def test_group_removed_orders_new_certificates(pebble, acme_config, httpd_factory, timing):
    """Changing the groups orders new certificates: with ACMEDomain a b both vhosts share
    one; without it (graceful restart) each gets its own, with only its names."""
    a, b = VHost("ra.%s" % SUFFIX), VHost("rb.%s" % SUFFIX)
    httpd = httpd_factory([a, b], acme_config + ["ACMEDomain %s %s" % (a.name, b.name)])
    c1, _ = httpd.wait_for_cert(a.name, pebble, timeout=90, names=a.names + b.names)
    assert httpd.cert(b.name).serial == c1.serial
    httpd.acme_lines = list(acme_config)
    httpd.write_config()
    httpd.graceful()
    t0 = time.monotonic()
    ca, _ = httpd.wait_for_cert(a.name, pebble, timeout=90, not_serial=c1.serial, names=a.names)
    cb, _ = httpd.wait_for_cert(b.name, pebble, timeout=60, not_serial=c1.serial, names=b.names)
    timing("ACMEDomain removed -> one certificate per vhost served", time.monotonic() - t0)
    assert ca.serial != cb.serial


def test_split_130_names_over_three_vhosts(pebble, acme_config, httpd_factory, timing):
    """130 names (50 + 50 + 30) grouped by one ACMEDomain: more than 100, so two certificates
    (two vhosts in one, the third in the other); every name is served a valid certificate."""
    vs = [_vhost("x", 50), _vhost("y", 50), _vhost("z", 30)]
    httpd = httpd_factory(vs, acme_config + [
        "ACMEDomain %s" % " ".join(v.name for v in vs)])
    t0 = time.monotonic()
    served = _serve_all(httpd, pebble, vs, 100, timeout=240)
    timing("130 names split over 2 certificates: start -> all served", time.monotonic() - t0)
    serials = {}
    for v in vs:
        serials.setdefault(served[v.name].serial, []).append(v.name)
    assert len(serials) == 2, serials
    assert sorted(len(served[names[0]].sans) for names in serials.values()) in (
        [50, 80], [30, 100]), serials
    log = httpd.error_log()
    assert "ACME00542" in log and "130 names, more than the 100" in log \
        and "split into 2 certificates" in log, log[-3000:]


@pytest.mark.pebble210
def test_split_30_names_with_25_name_profile(pebble_factory, httpd_factory, timing):
    """ACMEProfile tlsserver (at most 25 names) and 30 names over two vhosts in one
    ACMEDomain: two certificates, each vhost's names in one, every name served. Pebble 2.10
    with its own profiles in its config."""
    peb = pebble_factory(extra_config={"profiles": {
        "default": {"description": "test default", "validityPeriod": 3600},
        "tlsserver": {"description": "test tlsserver", "validityPeriod": 3600}}})
    vs = [_vhost("p", 15), _vhost("q", 15)]
    httpd = httpd_factory(vs, harness.acme_lines(peb, peb.ca_file, extra=[
        "ACMEProfile tlsserver", "ACMEDomain %s %s" % (vs[0].name, vs[1].name)]))
    t0 = time.monotonic()
    served = _serve_all(httpd, peb, vs, 25, timeout=180)
    timing("30 names, 25-name profile: start -> all served", time.monotonic() - t0)
    assert served[vs[0].name].serial != served[vs[1].name].serial
    log = httpd.error_log()
    assert "30 names, more than the 25" in log and "split into 2 certificates" in log, \
        log[-3000:]


CONF = ["ACMEServer https://127.0.0.1:14000/dir", "ACMEContact admin@example.org",
        "ACMEAgreeTerms on", "ACME on"]


def test_configtest_group_errors(httpd_factory):
    """Clear configtest errors: a vhost with names in two ACMEDomain lines, a name in two
    lines, ACMEDomain in a VirtualHost, a name no CA certifies; a good ACMEDomain passes."""
    v = VHost("a.%s" % SUFFIX, aliases=["b.%s" % SUFFIX])

    def run(lines, vhosts=(v,)):
        httpd = httpd_factory(list(vhosts), CONF + lines, start=False)
        rc, out = httpd.configtest()
        print(out)
        return rc, out

    rc, out = run(["ACMEDomain a.%s" % SUFFIX, "ACMEDomain b.%s" % SUFFIX])
    assert rc != 0 and "ACME00540" in out and "has names in ACMEDomain a.%s and " \
        "ACMEDomain b.%s" % (SUFFIX, SUFFIX) in out, out
    rc, out = run(["ACMEDomain a.%s c.%s" % (SUFFIX, SUFFIX), "ACMEDomain c.%s" % SUFFIX])
    assert rc != 0 and "c.%s is already in ACMEDomain a.%s" % (SUFFIX, SUFFIX) in out, out
    rc, out = run([], vhosts=[VHost("a.%s" % SUFFIX, lines=["ACMEDomain a.%s" % SUFFIX])])
    assert rc != 0 and "ACMEDomain" in out and "outside <VirtualHost>" in out, out
    rc, out = run(["ACMEDomain localhost"])
    assert rc != 0 and "ACMEDomain: 'localhost' cannot be in a certificate" in out, out
    rc, out = run(["ACMEDomain a.%s b.%s later.%s" % (SUFFIX, SUFFIX, SUFFIX)])
    assert rc == 0 and "Syntax OK" in out, out
