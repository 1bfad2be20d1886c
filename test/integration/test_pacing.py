"""Issue 12, item 5: pacing new orders against the CA's rate.

Real pebble 2.10 behind the TEST-ONLY proxy (acme_proxy.py), which enforces a small newOrder
rate like a CA's limit: a token bucket of 2 orders, refilled at 2 per 6 s (one every 3 s); a
newOrder beyond it is answered 429 rateLimited with Retry-After (pebble cannot be told to
limit). Pebble does the rest (authorizations, validation, issuance) for real.

- With ACMEOrderRate set to the proxy's rate, 8 vhosts are spread over the budget instead of
  meeting 429s: at most one 429 (timing noise between the module's clock and the proxy's),
  the module says it paces (ACME00592), and all 8 are served.
- Without ACMEOrderRate (an unknown CA: no order budget) and one order at a time
  (ACMEMaxParallel 1), the proxy's 429s are met; after each, no newOrder reaches the CA before
  its Retry-After ran out (the 429 pauses that CA, not only the certificate that met it), and
  all 6 are served in the end.
"""

import time

import pytest

import harness
import status_helpers
from harness import VHost

pytestmark = pytest.mark.pebble210

RATE_COUNT, RATE_PERIOD = 2, 6     # the proxy's newOrder bucket: 2 at once, one every 3 s
SERVED_BOUND = 150                 # s from start until every vhost is served


def _names(prefix, n):
    return ["%s%d.pacing.mod-acme.test" % (prefix, i) for i in range(n)]


def _wait_all_served(httpd, peb, names, bound):
    t0 = time.monotonic()
    for name in names:
        left = bound - (time.monotonic() - t0)
        assert left > 0, "not all served within %d s:\n%s" % (bound, httpd.diagnostics(80))
        httpd.wait_for_cert(name, peb, timeout=left)
    return time.monotonic() - t0


def test_orders_spread_at_the_proxy_rate(pebble_factory, proxy_factory, httpd_factory, timing):
    """ACMEOrderRate 2/6s against a proxy enforcing 2 per 6 s: no 429 (at most 1), all served."""
    peb = pebble_factory()
    proxy = proxy_factory(peb)
    proxy.ari = False
    lim = proxy.rate_limit(r"^/order-plz$", method="POST", count=RATE_COUNT, period=RATE_PERIOD)
    names = _names("spread", 8)
    httpd = httpd_factory([VHost(n) for n in names] + [status_helpers.status_vhost()],
                          harness.acme_lines(proxy.directory_url, peb.ca_file, extra=[
                              "ACMEOrderRate %d/%ds" % (RATE_COUNT, RATE_PERIOD),
                              "ACMERetryDelay 2s"]))

    def paced_shown():
        _, doc = status_helpers.status_json(httpd)
        return [c for c in doc.get("certificates", [])
                if (c.get("next_action") or {}).get("action") == "paced"]
    shown = harness.wait_for(paced_shown, 20, interval=0.3,
                             what="a certificate shown 'paced' on the status page")
    reason = (shown[0].get("next_action") or {}).get("reason", "")
    assert reason.startswith("paced until ") and "2 per 6s" in reason, reason
    took = _wait_all_served(httpd, peb, names, SERVED_BOUND)
    timing("8 vhosts at 2 orders per 6 s: start to all served", took)
    orders = proxy.new_orders()
    refused = [r for r in orders if r.status == 429]
    print("newOrder requests: %d, answered 429: %d, all served after %.1f s"
          % (len(orders), len(refused), took))
    assert lim.limited <= 1, "the module met %d 429s instead of pacing:\n%s" % (
        lim.limited, proxy.summary())
    assert httpd.log_entries(r"ACME00592"), "no 'paced' line (ACME00592) in the error log"
    # 8 orders at 2 + one per 3 s need at least 18 s: the module did wait
    accepted = [r.mono for r in orders if r.status != 429]
    assert len(accepted) >= 8
    assert accepted[7] - accepted[0] >= 3 * (8 - RATE_COUNT) - 1.5


def test_429_pauses_the_ca(pebble_factory, proxy_factory, httpd_factory, timing):
    """No ACMEOrderRate, one order at a time: after a 429 with Retry-After no newOrder is sent
    before it ran out, and every vhost is served in the end."""
    peb = pebble_factory()
    proxy = proxy_factory(peb)
    proxy.ari = False
    proxy.rate_limit(r"^/order-plz$", method="POST", count=RATE_COUNT, period=RATE_PERIOD)
    names = _names("pause", 6)
    httpd = httpd_factory([VHost(n) for n in names], harness.acme_lines(
        proxy.directory_url, peb.ca_file, extra=["ACMEMaxParallel 1", "ACMERetryDelay 1s"]))
    took = _wait_all_served(httpd, peb, names, SERVED_BOUND)
    timing("6 vhosts, 429s met one at a time: start to all served", took)
    orders = proxy.new_orders()
    refused = [r for r in orders if r.status == 429]
    print("newOrder requests: %d, answered 429: %d" % (len(orders), len(refused)))
    assert refused, "the proxy never limited: the test proves nothing"
    early = []
    for r in refused:
        until = r.mono + int(r.response_headers.get("retry-after", "0")) - 0.3
        early += [o for o in orders if r.mono < o.mono < until]
    assert not early, "newOrder sent before the Retry-After of a 429 ran out: %s\n%s" % (
        early, proxy.summary())
