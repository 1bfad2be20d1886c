"""Issue 3, test 1: renewal by the renew window, with short-lived pebble certificates
(harness validity=: pebble 2.4's certificateValidityPeriod, 2.10's "default" profile), without
any action from the admin. The first test is in the compatibility subset (pebble 2.4).

The TEST-ONLY proxy (acme_proxy.py) sits in front of pebble here only to attribute every
newOrder to its names (pebble's log does not name them); its ARI is switched off (no
renewalInfo in the directory, not even pebble 2.10's own), so the renew window alone decides. Pebble itself still sees
every order (counted in its log as well)."""

import os
import time

import pytest

import harness
from harness import VHost, norm_serial, store_certs

ACME_LOG = r"\[acme:"


def _names_of(rec):
    return sorted(i.get("value") for i in (rec.payload or {}).get("identifiers", []))


def _orders_for(proxy, names, since=0):
    return [r for r in proxy.new_orders(since=since) if _names_of(r) == sorted(names)]


@pytest.mark.compat
def test_renewed_inside_default_window(pebble_factory, proxy_factory, httpd_factory, timing):
    validity = 90
    a = VHost("renew.mod-acme.test")                                  # default window (33 %)
    b = VHost("later.mod-acme.test", lines=["ACMERenewWindow 5s"])    # 5 s before expiry
    peb = pebble_factory(validity=validity)
    proxy = proxy_factory(peb, ari=False)
    t0 = time.monotonic()
    httpd = httpd_factory([a, b], harness.acme_lines(proxy.directory_url, peb.ca_file))
    a1, _ = httpd.wait_for_cert(a.name, peb, timeout=60, names=a.names)
    b1, _ = httpd.wait_for_cert(b.name, peb, timeout=max(1, 60 - (time.monotonic() - t0)),
                                names=b.names)
    timing("start -> both short-lived certificates served", time.monotonic() - t0)
    lifetime = a1.not_after - a1.not_before
    renew_at = a1.not_after - 0.33 * lifetime
    print("A %s: notBefore %s notAfter %s (lifetime %.0f s, pebble validity %d s): renewal "
          "due at %s (in %.1f s)" % (a1.serial, time.ctime(a1.not_before),
                                     time.ctime(a1.not_after), lifetime, validity,
                                     time.ctime(renew_at), renew_at - time.time()))
    assert len(_orders_for(proxy, a.names)) == 1 and len(_orders_for(proxy, b.names)) == 1, \
        proxy.summary()
    # the first certificates may have been activated by one or two restarts: wait until the
    # module's restart trigger is quiet before counting
    time.sleep(1)
    mark, pmark, gens = proxy.mark(), peb.mark(), httpd.generations()
    hmark = httpd.log_mark()

    # A is renewed by itself: a new order when the window starts, then a restart activates it
    wait = max(5, renew_at - time.time()) + 45
    a2, waited = httpd.wait_for_cert(a.name, peb, timeout=wait, not_serial=a1.serial,
                                     names=a.names)
    t_served = time.time()
    orders_a = _orders_for(proxy, a.names, since=mark)
    assert orders_a, "a new certificate for A without a new order?\n" + proxy.summary()
    t_order = orders_a[0].time
    print("A renewed: order at %+.1f s from the window's start, served %.1f s after the order "
          "(new serial %s)" % (t_order - renew_at, t_served - t_order, a2.serial))
    timing("renewal window start -> new order (A)", t_order - renew_at)
    timing("new order -> renewed certificate served (A)", t_served - t_order)
    assert t_order >= renew_at - 2, "A was renewed %.1f s before its window started" % (
        renew_at - t_order)
    assert t_order <= renew_at + 15, "A's renewal came %.1f s after its window started" % (
        t_order - renew_at)
    assert len(orders_a) == 1, "%d orders for A's renewal:\n%s" % (len(orders_a),
                                                                   proxy.summary(mark))
    restarts = httpd.generations() - gens
    assert restarts == 1, "%d restarts between A's renewal order and its activation" % restarts
    assert a2.not_after > a1.not_after

    # the old set is in archive/<id>/<timestamp>/, not deleted
    archived = store_certs(os.path.join(httpd.store, "archive", a.name))
    assert norm_serial(a1.serial) in archived, "old serial %s not under archive/%s/: %r" % (
        a1.serial, a.name, archived)
    live = store_certs(os.path.join(httpd.store, "live", a.name))
    assert norm_serial(a2.serial) in live and norm_serial(a1.serial) not in live, live

    # B (window 5 s) was left alone: no order for it during >= 30 s of its lifetime
    observed_until = min(time.time(), b1.not_after - 5 - 1)
    observed = observed_until - b1.not_before
    orders_b = [r for r in _orders_for(proxy, b.names, since=mark) if r.time < observed_until]
    print("B %s (ACMERenewWindow 5s) observed for %.0f s of its %.0f s lifetime: %d orders; "
          "pebble saw %d POST /order-plz since the first issuance" % (
              b1.serial, observed, b1.not_after - b1.not_before, len(orders_b),
              peb.orders(since=pmark)))
    assert observed >= 30, "observed B for %.0f s only" % observed
    assert not orders_b, "B was renewed %.0f s before its 5 s window:\n%s" % (
        b1.not_after - 5 - orders_b[0].time, proxy.summary(mark))
    assert httpd.cert(b.name).serial == b1.serial
    # pebble's own count agrees: exactly A's renewal order (B's comes later, if at all yet)
    peb_orders = peb.orders(since=pmark)
    b_late = len(_orders_for(proxy, b.names, since=mark))
    assert peb_orders == 1 + b_late, "pebble saw %d orders, expected 1 (+%d for B late)" % (
        peb_orders, b_late)
    renewal_lines = httpd.log_entries(ACME_LOG, since=hmark)
    print("acme log lines since the first issuance: %d" % len(renewal_lines))


def test_window_longer_than_lifetime_is_clamped(pebble_factory, proxy_factory, httpd_factory,
                                                timing):
    """ACMERenewWindow 100s on a 40 s certificate: clamped to half the lifetime with a warning,
    one renewal ~20 s after issuance, never an endless renewal loop."""
    validity = 40
    c = VHost("clamp.mod-acme.test", lines=["ACMERenewWindow 100s"])
    peb = pebble_factory(validity=validity)
    proxy = proxy_factory(peb, ari=False)
    t0 = time.monotonic()
    httpd = httpd_factory([c], harness.acme_lines(proxy.directory_url, peb.ca_file))
    c1, _ = httpd.wait_for_cert(c.name, peb, timeout=60, names=c.names)
    timing("start -> 40 s certificate served", time.monotonic() - t0)
    half = (c1.not_after - c1.not_before) / 2
    due = c1.not_after - half
    print("C %s: lifetime %.0f s, clamped renewal due at %+.1f s from now" % (
        c1.serial, 2 * half, due - time.time()))
    first = proxy.new_orders()
    assert len(first) == 1, proxy.summary()

    # observe until shortly before the renewed certificate itself would be due (issued at
    # about `due`, renewed half a lifetime later): exactly one more order
    end = due + half - 3
    deadline = time.monotonic() + max(0, end - time.time())
    for _ in range(200):
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        if len(proxy.new_orders()) > 4:
            break  # a renewal loop: no need to watch it longer
    orders = proxy.new_orders()[1:]
    print("orders after the first within %.0f s: %d at %s" % (
        end - c1.not_before, len(orders),
        ["%+.1f s" % (o.time - due) for o in orders]))
    assert len(orders) <= 1, "renewal loop: %d orders\n%s" % (len(orders), proxy.summary())
    assert len(orders) == 1, "no renewal inside the clamped window (due %s)\n%s" % (
        time.ctime(due), proxy.summary())
    assert due - 2 <= orders[0].time <= due + 15, \
        "renewal at %+.1f s from the clamped window's start" % (orders[0].time - due)
    timing("clamped window start -> new order", orders[0].time - due)
    warn = [line for _, line in httpd.log_entries(r"ACMERenewWindow")
            if "warn" in line or "clamp" in line.lower() or "half" in line]
    assert warn, "no warning naming ACMERenewWindow in the log:\n" + httpd.diagnostics()
    print("warning: %s" % warn[0])
