"""Issue 3, tests 3 and 4: backoff that never hammers the CA.

test_ca_unreachable_backoff uses pebble directly (stopped and started again on the same ports).
test_rate_limited_retry_after uses the TEST-ONLY proxy (acme_proxy.py) in front of pebble: it
answers newOrder with 429 + urn:ietf:params:acme:error:rateLimited + Retry-After, which pebble
2.4 cannot be told to do."""

import re
import time

import harness
from harness import VHost

ATTEMPT_RX = r"ACME00031.*attempt (\d+) failed"


def _attempts(httpd, since=0):
    return [(t, int(re.search(ATTEMPT_RX, line).group(1)), line)
            for t, line in httpd.log_entries(ATTEMPT_RX, since=since)]


def test_ca_unreachable_backoff(pebble_factory, httpd_factory, timing):
    """ACMERetryDelay 100ms, pebble down from the start: attempts at about t0, t0+1 s, t0+2 s,
    then t0+11..13 s (x10 per failure, 1 s watchdog tick); the fallback keeps answering; once
    pebble is back the next scheduled attempt obtains the certificate."""
    v = VHost("backoff.mod-acme.test")
    peb = pebble_factory()
    peb.stop()
    assert not harness.port_accepts(peb.port)
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file,
                                                  extra=["ACMERetryDelay 100ms"]))
    httpd.wait_for(lambda: _attempts(httpd), 20, interval=0.1,
                   what="the first failed attempt (ACME00031 ... attempt 1 failed)")
    t0 = _attempts(httpd)[0][0]
    checks = 0
    # observe ~6 s from the first attempt; the fallback keeps answering meanwhile
    for _ in range(60):
        if time.time() >= t0 + 6:
            break
        c = httpd.cert(v.name)
        assert c.is_fallback, "SNI %s: %r while the CA is down" % (v.name, c)
        r = httpd.get("/", v.name, tls=True)
        assert r.status == 503, r
        checks += 1
        time.sleep(0.5)
    att = _attempts(httpd)
    rel = ["%+.2f s #%d" % (t - t0, n) for t, n, _ in att]
    print("attempts in the first %.1f s with the CA down: %d: %s (fallback checked %d times)"
          % (time.time() - t0, len(att), rel, checks))
    assert [n for _, n, _ in att] == list(range(1, len(att) + 1)), \
        "attempt numbers not 1, 2, 3...: %s" % rel
    assert len(att) <= 4, "%d attempts within 6 s: the module hammers the CA (%s)" % (
        len(att), rel)
    assert len(att) >= 2, "only %d attempt within 6 s with ACMERetryDelay 100ms (%s)" % (
        len(att), rel)
    assert att[1][0] - t0 >= 0.09, "second attempt %.3f s after the first" % (att[1][0] - t0)
    assert httpd.running()

    peb.start()
    t_back = time.time()
    mark = httpd.log_mark()

    def staged():
        return httpd.log_entries(r"ACME00030", since=mark) or None
    st = httpd.wait_for(staged, 30, interval=0.2,
                        what="the certificate staged after pebble came back")
    t_staged = st[0][0]
    att2 = _attempts(httpd)
    starts = [t for t, _ in httpd.log_entries(r"ACME00032", since=mark)]
    t_try = starts[0] if starts else None
    print("pebble back at %+.1f s; the successful attempt started at %s, staged at %+.1f s; "
          "failed attempts in all: %d" % (
              t_back - t0, "%+.1f s" % (t_try - t0) if t_try else "(no ACME00032 line)",
              t_staged - t0, len(att2)))
    timing("first attempt -> successful attempt after the CA returned",
           (t_try or t_staged) - t0)
    assert len(att2) == len(att), "attempts failed after pebble came back: %s" % [
        line for _, _, line in att2[len(att):]]
    when = t_try if t_try is not None else t_staged
    assert 10 <= when - t0 <= 16, \
        "the attempt after the CA returned came at %+.1f s from the first (expected the " \
        "scheduled one at about +11..13 s)" % (when - t0)
    cert, waited = httpd.wait_for_cert(v.name, peb, timeout=40, names=v.names)
    timing("staged -> served after the CA outage", time.time() - t_staged)
    r = httpd.get("/", v.name, tls=True)
    assert r.status == 200, r


def test_rate_limited_retry_after(pebble, proxy_factory, httpd_factory, timing):
    """429 rateLimited + Retry-After: 20 on newOrder of one certificate (test-only proxy): no
    second newOrder for it (nor any other POST for it) before 20 s, although ACMERetryDelay is
    100ms; then obtained. The other certificate is not delayed by it."""
    v = VHost("ratelimit.mod-acme.test")
    other = VHost("unlimited.mod-acme.test")
    proxy = proxy_factory(pebble, ari=False)
    inj = proxy.inject(r"^/order-plz$", method="POST", retry_after=20, count=1,
                       identifier=v.name, detail="test-only proxy: too many new orders")
    t_start = time.time()
    httpd = httpd_factory([v, other], harness.acme_lines(proxy.directory_url, pebble.ca_file,
                                                         extra=["ACMERetryDelay 100ms"]))

    def mine(recs):
        return [r for r in recs if any(i.get("value") == v.name for i in
                                       (r.payload or {}).get("identifiers", []))]

    def two_orders():
        o = mine(proxy.new_orders())
        return o if len(o) >= 2 else None
    orders = httpd.wait_for(two_orders, 45, interval=0.1, what="a second newOrder")
    o1, o2 = orders[0], orders[1]
    gap = o2.mono - o1.mono
    assert o1.status == 429 and o1.injected and inj.hits == 1, (o1, inj.hits)
    # the other certificate: obtained meanwhile, not held up by the rate-limited one
    staged_other = [t for t, line in httpd.log_entries(r"ACME00030") if other.name in line]
    assert staged_other and staged_other[0] < o2.time, \
        "%s was not staged during %s's Retry-After period" % (other.name, v.name)
    print("%s staged %.1f s after start (during the other's Retry-After)" % (
        other.name, staged_other[0] - t_start))
    # no newOrder naming this certificate in between
    between = [r for r in proxy.requests() if o1.mono < r.mono < o2.mono]
    posts_between = mine([r for r in between if r.method == "POST"])
    print("newOrder 429 (Retry-After 20) -> next newOrder for %s after %.2f s; %d requests "
          "in between (the other certificate's)" % (v.name, gap, len(between)))
    timing("429 Retry-After 20 -> next newOrder", gap)
    assert gap >= 20 - 0.05, "second newOrder %.2f s after the 429 with Retry-After: 20" % gap
    assert gap <= 26, "second newOrder only %.1f s after a 20 s Retry-After" % gap
    assert not posts_between, "POSTs during the Retry-After period: %s" % posts_between
    failed = [e for e in httpd.log_entries(ATTEMPT_RX) if v.name in e[1]]
    assert failed and "attempt 1 failed" in failed[0][1], failed
    assert not [e for e in httpd.log_entries(ATTEMPT_RX) if other.name in e[1]]
    print("log: %s" % failed[0][1])
    assert o2.status == 201, o2
    httpd.wait_for(lambda: [1 for _, line in httpd.log_entries(r"ACME00030")
                            if v.name in line], 30,
                   what="the certificate staged after the rate limit")
