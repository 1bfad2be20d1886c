"""Issue 10: a certificate that expired while the server was down is renewed at once.

Real pebble, short-lived certificates (harness validity=: pebble 2.4's
certificateValidityPeriod, pebble 2.10's "default" profile). ARI is off here: pebble 2.10's
renewal window for a 30 s certificate spans its whole life, so ARI alone could renew it before
httpd is stopped. Runs against pebble 2.4 too (compatibility subset)."""

import time

import pytest

import harness
from harness import VHost

VALIDITY = 30


@pytest.mark.compat
def test_expired_while_down_renewed_at_once(pebble_factory, httpd_factory, timing):
    """Issue a 30 s certificate, stop httpd before its renew window, start it again once the
    certificate has expired: the first thing the module does is a renewal ("certificate
    expired at ..."), served within a bounded time, with no wait for jitter or backoff."""
    v = VHost("expired.mod-acme.test", lines=["ACMERenewWindow 2s"])
    peb = pebble_factory(validity=VALIDITY)
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file,
                                                  extra=["ACMERenewalInfo off"]))
    c1, _ = httpd.wait_for_cert(v.name, peb, timeout=60, names=v.names)
    lifetime = c1.not_after - c1.not_before
    print("first certificate %s: lifetime %.0f s, expires in %.1f s" % (
        c1.serial, lifetime, c1.not_after - time.time()))
    assert lifetime <= VALIDITY + 1, "pebble issued a %.0f s certificate, expected %d s" % (
        lifetime, VALIDITY)
    orders_before = peb.orders()
    httpd.stop()
    assert c1.not_after - 2 > time.time(), \
        "the certificate was already inside its renew window when httpd stopped"
    assert peb.orders() == orders_before, "renewed before httpd stopped"

    # down past the expiry (bounded: at most the lifetime plus a little)
    time.sleep(max(0, min(VALIDITY + 5, c1.not_after + 2 - time.time())))
    assert time.time() > c1.not_after
    hmark, pmark = httpd.log_mark(), peb.mark()
    t0 = time.time()
    httpd.start()
    c2, waited = httpd.wait_for_cert(v.name, peb, timeout=60, not_serial=c1.serial,
                                     names=v.names)
    took = time.time() - t0
    timing("start with an expired certificate -> renewed certificate served", took)
    print("renewed %s after %.1f s (expired %.1f s before the start)" % (
        c2.serial, took, t0 - c1.not_after))
    why = httpd.log_entries(r"ACME00032.*certificate expired at", since=hmark)
    assert why, "no ACME00032 line saying the certificate expired:\n" + httpd.diagnostics()
    orders = peb.orders(since=pmark)
    assert orders >= 1, "renewed without an order?"
    # a start is followed by the first watchdog run; the renewal must not wait for jitter
    # (up to 10 % of the 2 s window) or a backoff: generous for a loaded machine
    assert why[0][0] is None or why[0][0] - t0 < 15, \
        "the renewal started %.1f s after the start" % (why[0][0] - t0)
    assert took < 45, "an expired certificate took %.1f s to be replaced" % took
    assert c2.not_after > time.time(), "the new certificate is not valid"
