"""Issue 3, test 2: ACME Renewal Information (RFC 9773).

Pebble 2.4 has no ARI and pebble 2.10 always answers Retry-After: 6 h: these tests of
Retry-After and explanationURL talk to pebble through the TEST-ONLY proxy
(acme_proxy.py), which puts its own "renewalInfo" in pebble's directory and answers
GET /renewalInfo/<certID> itself with the suggested window, explanationURL and Retry-After the
test sets, records every request and decodes newOrder's JWS payload (for "replaces").
Pebble's certificates here live 90 days (2.10) or 5 years (2.4), far from the renew window:
only ARI can make the module renew. ARI against pebble 2.10's own renewalInfo, with
alreadyReplaced, and ACMERenewalInfo off: test_lifecycle_ari_pebble.py."""

import os
import re
import time

import harness
from acme_proxy import cert_id
from harness import VHost, norm_serial, store_certs

FUTURE = (30 * 86400, 31 * 86400)   # relative to now


def _future():
    now = time.time()
    return (now + FUTURE[0], now + FUTURE[1])


def _wait_requests(proxy, n, timeout, since=0):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.1) + 2):
        r = proxy.renewal_info_requests(since=since)
        if len(r) >= n or time.monotonic() >= deadline:
            return r
        time.sleep(0.1)
    return proxy.renewal_info_requests(since=since)


def test_ari_retry_after_explanation_and_past_window(pebble, proxy_factory, httpd_factory,
                                                     timing):
    """Retry-After: 2 -> refetched about every 2 s (counted); window moved earlier with an
    explanationURL -> logged; window in the past -> renewed promptly with "replaces"."""
    v = VHost("ari.mod-acme.test")
    proxy = proxy_factory(pebble, ari=True)
    proxy.ari_window = _future()
    proxy.ari_retry_after = 2
    httpd = httpd_factory([v], harness.acme_lines(proxy.directory_url, pebble.ca_file))
    c1, waited = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    cid = cert_id(c1.pem)
    print("first certificate %s, certID %s (%.1f s)" % (c1.serial, cid, waited))
    first = _wait_requests(proxy, 1, 15)
    assert first, "no renewalInfo request within 15 s of the certificate going live\n" + \
        proxy.summary()
    assert first[0].path == "/renewalInfo/" + cid, \
        "renewalInfo requested for %r, expected certID %r" % (first[0].path, cid)
    assert first[0].method == "GET", first[0]
    t_first = first[0].mono
    httpd.wait_for(lambda: httpd.log_entries(r"ACME00050"), 5,
                   what="an ACME00050 line after the renewalInfo fetch")

    # Retry-After: 2 -> a refetch about every 2 s (+ up to a 1 s tick), not every second
    period = 12.0
    time.sleep(max(0, t_first + period - time.monotonic()))
    reqs = [r for r in proxy.renewal_info_requests() if r.mono <= t_first + period]
    gaps = ["%.1f" % (b.mono - a.mono) for a, b in zip(reqs, reqs[1:])]
    print("renewalInfo requests in %.0f s with Retry-After 2: %d, gaps %s" % (
        period, len(reqs), gaps))
    assert 3 <= len(reqs) <= 8, "%d renewalInfo requests in %.0f s with Retry-After: 2 " \
        "(expected about %d)\n%s" % (len(reqs), period, period / 2, proxy.summary())
    assert all(float(g) >= 1.8 for g in gaps), "refetched before Retry-After: gaps %s" % gaps
    assert not proxy.new_orders()[1:], "renewed although the window is in the future"

    # the CA moves the window earlier (still in the future) and explains why -> logged
    url = "https://ca.mod-acme.test/ari-explanation-%d" % int(time.time())
    now = time.time()
    proxy.ari_explanation_url = url
    proxy.ari_window = (now + 10 * 86400, now + 11 * 86400)
    httpd.wait_for(lambda: httpd.log_entries(re.escape(url)), 10,
                   what="a log line with the explanationURL %s" % url)
    assert not proxy.new_orders()[1:], "renewed although the window is in the future"

    # the window moves into the past (for this certificate only) -> renewed promptly
    mark = proxy.mark()
    t_past = time.time()
    proxy.ari_window_fn = lambda c: (t_past - 7200, t_past - 3600) if c == cid else None
    proxy.ari_retry_after = 3600

    def renewal_order():
        return proxy.new_orders(since=mark) or None
    orders = httpd.wait_for(renewal_order, 15, interval=0.2,
                            what="a newOrder after the ARI window moved into the past")
    t_order = orders[0].time
    payload = orders[0].payload
    print("renewal newOrder %.1f s after the window moved into the past: %s" % (
        t_order - t_past, payload))
    timing("ARI window in the past -> new order", t_order - t_past)
    assert payload.get("replaces") == cid, "newOrder payload %r: expected replaces == %r" % (
        payload, cid)
    assert sorted(i["value"] for i in payload["identifiers"]) == sorted(v.names), payload
    c2, _ = httpd.wait_for_cert(v.name, pebble, timeout=45, not_serial=c1.serial, names=v.names)
    timing("ARI renewal order -> new certificate served", time.time() - t_order)
    archived = store_certs(os.path.join(httpd.store, "archive", v.name))
    assert norm_serial(c1.serial) in archived, (c1.serial, archived)
    # the new certificate gets its own renewalInfo fetch; its window is in the future again:
    # no second renewal
    cid2 = cert_id(c2.pem)
    httpd.wait_for(lambda: [r for r in proxy.renewal_info_requests(mark)
                            if r.path == "/renewalInfo/" + cid2], 15, interval=0.2,
                   what="a renewalInfo request for the new certificate %s" % cid2)
    time.sleep(2)
    orders = proxy.new_orders(since=mark)
    assert len(orders) == 1, "%d orders after one ARI renewal:\n%s" % (
        len(orders), proxy.summary(mark))


def test_ari_future_window_and_long_retry_after(pebble, proxy_factory, httpd_factory):
    """A window far in the future -> no renewal; Retry-After 3600 -> exactly one renewalInfo
    request after the certificate goes live; state persisted across a stop/start."""
    v = VHost("ari-future.mod-acme.test")
    proxy = proxy_factory(pebble, ari=True)
    proxy.ari_window = _future()
    proxy.ari_retry_after = 3600
    httpd = httpd_factory([v], harness.acme_lines(proxy.directory_url, pebble.ca_file))
    c1, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    cid = cert_id(c1.pem)
    reqs = _wait_requests(proxy, 1, 15)
    assert reqs and reqs[0].path == "/renewalInfo/" + cid, proxy.summary()
    time.sleep(12)
    reqs = proxy.renewal_info_requests()
    print("renewalInfo requests in the %.0f s since the first (Retry-After 3600): %d" % (
        time.monotonic() - reqs[0].mono, len(reqs)))
    assert len(reqs) == 1, "%d renewalInfo requests with Retry-After: 3600\n%s" % (
        len(reqs), proxy.summary())
    assert len(proxy.new_orders()) == 1, "renewed although the ARI window is 30 days away\n" \
        + proxy.summary()
    assert httpd.cert(v.name).serial == c1.serial
    ari_json = os.path.join(httpd.store, "orders", v.name, "ari.json")
    assert os.path.isfile(ari_json), "%s missing (ARI state is persisted there)" % ari_json

    mark = proxy.mark()
    httpd.stop()
    httpd.start()
    time.sleep(8)
    again = proxy.renewal_info_requests(since=mark)
    print("after stop/start: %d renewalInfo requests in 8 s" % len(again))
    assert len(again) <= 1, "%d renewalInfo requests after a restart with Retry-After 3600" % (
        len(again))
    assert not proxy.new_orders(since=mark)
    assert httpd.cert(v.name).serial == c1.serial

