"""Issue 11, test 4 on ONE vhost: a vhost with more names than one certificate may carry is
split into several certificates, and each TLS connection is served, by its SNI name, the part
holding that name (a certificate callback installed through mod_ssl's init_server hook).

  - 30 names (ServerName + 29 ServerAlias) on one vhost with ACMEProfile shortlived (25
    names; pebble 2.10 with a profile of that name): two certificates; every one of the 30
    names is served a certificate that verifies against pebble's roots and holds it; a client
    without SNI gets the part of the ServerName; a graceful restart serves the same
    certificates; the status JSON lists both parts;
  - 130 names on one vhost without a profile (100 names): two certificates, every name served.

Real pebble, no proxy."""

import os
import subprocess
import time

import pytest

import harness
import status_helpers as sh
from harness import VHost

SUFFIX = "sni.mod-acme.test"
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))


def _vhost(label, n, lines=()):
    names = ["%s%d.%s" % (label, i, SUFFIX) for i in range(n)]
    return VHost(names[0], aliases=names[1:], lines=list(lines))


def _served(httpd, roots, names, limit):
    """{name: serial} when every name is served a pebble certificate that verifies and holds
    it, else None (not yet)."""
    out, verified = {}, {}
    for name in names:
        c = httpd.cert(name)
        if c.is_fallback or c.self_signed or name not in c.sans:
            return None
        if c.serial not in verified:
            verified[c.serial] = harness.verify(c, roots)
        assert verified[c.serial][0], "SNI %s: %s" % (name, verified[c.serial][1])
        assert len(c.sans) <= limit, "SNI %s: %d names in %s" % (name, len(c.sans), c.serial)
        out[name] = c.serial
    return out


def _wait_all(httpd, pebble, v, limit, timeout):
    roots = pebble.roots()
    names = [n.lower() for n in v.names]
    httpd.wait_for_cert(v.name, pebble, timeout=timeout)
    return httpd.wait_for(lambda: _served(httpd, roots, names, limit), timeout, interval=1,
                          what="every name of %s served a certificate holding it" % v.name)


@pytest.mark.pebble210
def test_one_vhost_30_names_shortlived(pebble_factory, httpd_factory, timing):
    """ACMEProfile shortlived (at most 25 names) and 30 names on ONE vhost: two certificates,
    each name served the one holding it (SNI), no SNI gets the ServerName's part, a graceful
    restart keeps them, the status lists both parts; a tls-alpn-01 renewal of the second part
    is not disturbed by the callback."""
    peb = pebble_factory(extra_config={"profiles": {
        "default": {"description": "test default", "validityPeriod": 7 * 86400},
        "shortlived": {"description": "test shortlived", "validityPeriod": 6 * 86400}}})
    v = _vhost("s", 30, lines=["ACMEChallenges tls-alpn-01"])
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(
        peb, peb.ca_file, extra=["ACMEProfile shortlived"]))
    t0 = time.monotonic()
    served = _wait_all(httpd, peb, v, 25, timeout=240)
    timing("one vhost, 30 names, 25-name profile: start -> all served",
           time.monotonic() - t0)
    serials = set(served.values())
    assert len(serials) == 2, served
    first = served[v.name.lower()]
    assert harness.fetch_cert(httpd.https_port, None).serial == first, "no SNI: not part 1"
    log = httpd.error_log()
    assert "ACME00542" in log and "has 30 names, more than the 25" in log \
        and "split into 2 certificates" in log, log[-3000:]
    assert "ACME00570" in log, log[-3000:]
    _, j = sh.status_json(httpd)
    ids = [c["id"] for c in j["certificates"]]
    assert len(ids) == 2 and v.name.lower() in ids, ids
    for c in j["certificates"]:
        assert c.get("serial"), c
    mark = peb.mark()
    httpd.graceful()
    again = _wait_all(httpd, peb, v, 25, timeout=60)
    assert again == served, "after a graceful restart other certificates are served"
    assert peb.orders(since=mark) == 0, "a graceful restart ordered again"

    # the second part renewed with tls-alpn-01: the validation handshakes (SNI = its names,
    # ALPN acme-tls/1) must get the challenge certificate, not the part's live one
    other = [i for i in ids if i != v.name.lower()][0]
    answered0 = httpd.error_log().count("ACME00063: tls-alpn-01: answering a challenge for")
    res = subprocess.run([ACMECTL, "--store", httpd.store, "renew", other],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    old2 = [s for s in serials if s != first][0]
    names2 = [n for n, s in served.items() if s == old2]
    t1 = time.monotonic()
    renewed = httpd.wait_for(lambda: (lambda r: r if r and r[names2[0]] != old2 else None)(
        _served(httpd, peb.roots(), sorted(served), 25)), 120, interval=1,
        what="the second part renewed and served")
    timing("tls-alpn-01 renewal of the second part -> served", time.monotonic() - t1)
    assert all(renewed[n] == first for n in served if served[n] == first), \
        "the first part changed"
    assert len(set(renewed[n] for n in names2)) == 1, renewed
    answered = httpd.error_log().count("ACME00063: tls-alpn-01: answering a challenge for")
    assert answered > answered0, "no tls-alpn-01 challenge was answered for the renewal"


def test_one_vhost_130_names(pebble, acme_config, httpd_factory, timing):
    """130 names on ONE vhost without a profile (at most 100 names): two certificates, every
    name served one that verifies and holds it."""
    v = _vhost("h", 130)
    httpd = httpd_factory([v], acme_config)
    t0 = time.monotonic()
    served = _wait_all(httpd, pebble, v, 100, timeout=300)
    timing("one vhost, 130 names: start -> all served", time.monotonic() - t0)
    assert len(set(served.values())) == 2, served
    assert "has 130 names, more than the 100" in httpd.error_log()
