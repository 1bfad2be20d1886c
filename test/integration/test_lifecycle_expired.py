"""Issue 10: a certificate that expired while the server was down is renewed at once.

Real pebble (the second test with the TEST-ONLY proxy, acme_proxy.py, injecting one fault),
short-lived certificates (harness validity=: pebble 2.4's
certificateValidityPeriod, pebble 2.10's "default" profile). ARI is off here: pebble 2.10's
renewal window for a 30 s certificate spans its whole life, so ARI alone could renew it before
httpd is stopped. Runs against pebble 2.4 too (compatibility subset)."""

import re
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


def test_expired_while_down_ignores_older_backoff(pebble_factory, proxy_factory, httpd_factory,
                                                  timing):
    """A renewal fails before the certificate expires (the TEST-ONLY proxy answers its newOrder
    with a 500), which would put the next attempt an hour later (ACMERetryDelay 1h); httpd is
    stopped, the certificate expires, the CA is fine again: at the next start the module
    renews at once, not after the backoff of the older failure."""
    validity = 40
    v = VHost("expired-backoff.mod-acme.test", lines=["ACMERenewWindow 20s"])
    peb = pebble_factory(validity=validity)
    proxy = proxy_factory(peb, ari=False)
    httpd = httpd_factory([v], harness.acme_lines(proxy.directory_url, peb.ca_file,
                                                  extra=["ACMERetryDelay 1h"]))
    c1, _ = httpd.wait_for_cert(v.name, peb, timeout=60, names=v.names)
    proxy.fault(v.name, "5xx")
    hmark = httpd.log_mark()
    failed = httpd.wait_for(lambda: httpd.log_entries(r"ACME00031.*%s" % re.escape(v.name),
                                                      since=hmark),
                            max(5, c1.not_after - time.time()),
                            what="the renewal failing before the certificate expires")
    print("renewal failed before expiry: %s" % failed[0][1][-200:])
    assert "next attempt at" in failed[0][1], failed
    time.sleep(1)
    httpd.stop()
    assert time.time() < c1.not_after, "expired before httpd stopped"
    proxy.clear_fault(v.name)
    time.sleep(max(0, min(validity + 5, c1.not_after + 2 - time.time())))
    hmark = httpd.log_mark()
    t0 = time.time()
    httpd.start()
    c2, _ = httpd.wait_for_cert(v.name, peb, timeout=60, not_serial=c1.serial, names=v.names)
    took = time.time() - t0
    timing("expired with an older failure -> renewed certificate served", took)
    why = httpd.log_entries(r"ACME00032.*certificate expired at", since=hmark)
    assert why, "no ACME00032 line saying the certificate expired:\n" + httpd.diagnostics()
    assert "retry after failure" not in why[0][1], why[0][1]
    assert took < 45, "an expired certificate took %.1f s to be replaced" % took
