"""Issue 10, test 6: ARI against pebble 2.10's own renewalInfo, including alreadyReplaced.

No proxy: the module talks to pebble itself. Pebble computes a certificate's window from its
lifetime (2/3 into it, +-24 h) and answers with a fixed Retry-After of 6 h; a test moves one
certificate's window with pebble's management API (POST /set-renewal-info/). Because of that
6 h Retry-After, the module's stored window (orders/<name>/ari.json) is removed while httpd is
stopped, so it asks pebble again at the next start. (Retry-After and explanationURL handling
is tested through the test-only proxy in test_lifecycle_ari.py: pebble's are fixed.)"""

import json
import os
import shutil
import subprocess
import time

import pytest

import harness
from acme_proxy import cert_id
from harness import VHost, norm_serial, store_certs

pytestmark = pytest.mark.pebble210

# pebble logs the route, not the certID (ari.json names the certID the window is for)
RENEWAL_INFO = r"GET /draft-ietf-acme-ari-03/renewalInfo/ -> calling handler"


def _ari_json(httpd, name):
    path = os.path.join(httpd.store, "orders", name, "ari.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _forget_window(httpd, name):
    """Remove the stored ARI window (httpd stopped): the module asks pebble again at start."""
    try:
        os.unlink(os.path.join(httpd.store, "orders", name, "ari.json"))
    except FileNotFoundError:
        pass


def _epoch(rfc3339):
    return time.mktime(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def _wait_other_cert(httpd, v, peb, exclude, timeout):
    """A served pebble certificate for v whose serial is none of exclude."""
    roots = peb.roots()

    def other():
        c = httpd.cert(v.name)
        if c.is_fallback or c.self_signed or c.serial in exclude:
            return None
        ok, out = harness.verify(c, roots)
        assert ok, "served certificate does not verify: %s" % out
        return c
    return httpd.wait_for(other, timeout, interval=0.5,
                          what="a certificate for %s other than %s" % (v.name, exclude))


def test_ari_window_replaces_and_already_replaced(pebble, httpd_factory, timing):
    """1. pebble's own window (2/3 into 90 days) is fetched and kept: no renewal.
    2. pebble moves the window into the past: renewed with "replaces" (pebble logs the
       replacement).
    3. the replaced certificate comes back (a restored backup of live/) with the past window:
       pebble answers the renewal's newOrder with alreadyReplaced, the module orders once more
       without "replaces" (ACME00450) and gets a new certificate."""
    v = VHost("ari-pebble.mod-acme.test")
    pmark0 = pebble.mark()
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file))
    c1, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    cid1 = cert_id(c1.pem)

    # 1. pebble's own window for this certificate, stored by the module
    ari = httpd.wait_for(lambda: (_ari_json(httpd, v.name) or {}).get("cert_id") == cid1
                         and _ari_json(httpd, v.name), 20,
                         what="ari.json for the first certificate (cert_id %s)" % cid1)
    lifetime = c1.not_after + 1 - c1.not_before
    ideal = c1.not_after + 1 - lifetime / 3
    start, end = _epoch(ari["start"]), _epoch(ari["end"])
    print("first certificate %s, lifetime %.0f s, ARI window %s .. %s" % (
        c1.serial, lifetime, ari["start"], ari["end"]))
    assert abs(start - (ideal - 86400)) <= 2 and abs(end - (ideal + 86400)) <= 2, \
        "stored window %r is not pebble's (ideal renewal %s)" % (ari, time.ctime(ideal))
    assert pebble.count(RENEWAL_INFO, since=pmark0) >= 1, "no renewalInfo request at pebble"
    time.sleep(3)
    assert pebble.orders(since=pmark0) == 1, "renewed although pebble's window is 60 days away"

    # a backup of live/ with the first certificate, for step 3
    httpd.stop()
    backup = os.path.join(httpd.root, "live-backup")
    live_dir = os.path.join(httpd.store, "live", v.name)
    subprocess.run(["cp", "-a", live_dir, backup], check=True)

    # 2. the window moves into the past at pebble
    now = time.time()
    assert pebble.set_renewal_info(c1.pem, (now - 7200, now - 3600)) == 200
    _forget_window(httpd, v.name)
    pmark, hmark = pebble.mark(), httpd.log_mark()
    t0 = time.time()
    httpd.start()
    c2 = _wait_other_cert(httpd, v, pebble, {c1.serial}, 60)
    timing("past ARI window at pebble -> renewed certificate served", time.time() - t0)
    assert pebble.count(RENEWAL_INFO, since=pmark) >= 1, "renewalInfo not asked again"
    replaced = pebble.count(r"ARI: order .* is a replacement of", since=pmark)
    assert pebble.orders(since=pmark) == 1 and replaced == 1, \
        "expected one newOrder, accepted by pebble as a replacement (%d orders, %d " \
        "replacements)" % (pebble.orders(since=pmark), replaced)
    httpd.wait_for(lambda: pebble.count(r"has been marked as replaced", since=pmark), 20,
                   what="pebble marking the first certificate replaced")
    assert not httpd.log_entries(r"ACME00450", since=hmark)
    archived = store_certs(os.path.join(httpd.store, "archive", v.name))
    assert norm_serial(c1.serial) in archived, (c1.serial, archived)

    # 3. the first certificate comes back: its renewal meets alreadyReplaced
    httpd.stop()
    shutil.rmtree(live_dir)
    subprocess.run(["cp", "-a", backup, live_dir], check=True)
    _forget_window(httpd, v.name)
    pmark, hmark = pebble.mark(), httpd.log_mark()
    httpd.start()
    c3 = _wait_other_cert(httpd, v, pebble, {c1.serial, c2.serial}, 60)
    lines = httpd.log_entries(r"ACME00450.*alreadyReplaced", since=hmark)
    print("third certificate %s; %d newOrders; %s" % (
        c3.serial, pebble.orders(since=pmark), lines[:1]))
    assert lines, "no ACME00450 line (alreadyReplaced, ordering without replaces):\n" + \
        httpd.diagnostics()
    assert pebble.orders(since=pmark) == 2, \
        "%d newOrders: expected the refused replacement and one without replaces" % (
            pebble.orders(since=pmark))
    assert pebble.count(r"ARI: order .* is a replacement of", since=pmark) == 0


def test_ari_off_asks_pebble_nothing(pebble, httpd_factory):
    """ACMERenewalInfo off: pebble's directory offers renewalInfo, yet the module never asks,
    and a window pebble moved into the past renews nothing (across a stop/start)."""
    v = VHost("ari-off-pebble.mod-acme.test")
    assert "renewalInfo" in pebble.directory(), "pebble 2.10 should offer renewalInfo"
    pmark = pebble.mark()
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file,
                                                  extra=["ACMERenewalInfo off"]))
    c1, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    now = time.time()
    assert pebble.set_renewal_info(c1.pem, (now - 7200, now - 3600)) == 200
    httpd.stop()
    httpd.start()
    time.sleep(8)
    asked, orders = pebble.count(RENEWAL_INFO, since=pmark), pebble.orders(since=pmark)
    print("ACMERenewalInfo off: %d renewalInfo requests, %d orders" % (asked, orders))
    assert asked == 0, "renewalInfo requested although ACMERenewalInfo is off"
    assert orders == 1, "renewed (pebble's window is in the past) although ARI is off"
    assert httpd.cert(v.name).serial == c1.serial
    assert not os.path.exists(os.path.join(httpd.store, "orders", v.name, "ari.json"))
