"""Issue 9: ACME problem types handled by one table (acme_problem_classify).

Uses the TEST-ONLY proxy (acme_proxy.py) in front of the real pebble: it answers one request
with a problem document pebble 2.4 cannot be made to send (badCSR at finalize,
userActionRequired at newOrder). Everything else is pebble's own answer."""

import re

import harness
from harness import VHost

ATTEMPT_RX = r"ACME00031.*attempt (\d+) failed"
FINALIZE_RX = r"^/finalize-order/"


def _failures(httpd, name):
    return [line for _, line in httpd.log_entries(ATTEMPT_RX) if name in line]


def _first_failure(pebble, proxy_factory, httpd_factory, v, path, **problem):
    """Start httpd for v through the test-only proxy answering path once with problem; wait
    for the failed attempt. -> (proxy, injection, httpd, its ACME00031 line)"""
    proxy = proxy_factory(pebble, ari=False)
    inj = proxy.inject(path, method="POST", count=1, **problem)
    httpd = httpd_factory([v], harness.acme_lines(proxy.directory_url, pebble.ca_file,
                                                  extra=["ACMERetryDelay 100ms"]))
    httpd.wait_for(lambda: _failures(httpd, v.name), 45, interval=0.2,
                   what="the failed attempt (ACME00031)")
    return proxy, inj, httpd, _failures(httpd, v.name)[0]


def test_final_problem_orders_anew(pebble, proxy_factory, httpd_factory):
    """badCSR at finalize (test-only proxy, once) is final for the order: the failed attempt's
    line names the problem with the table's hint, and the next attempt makes a NEW order
    rather than resuming the old one (which would meet the same answer again), then obtains
    the certificate."""
    v = VHost("badcsr.mod-acme.test")
    proxy, inj, httpd, line = _first_failure(
        pebble, proxy_factory, httpd_factory, v, FINALIZE_RX, status=400,
        problem_type="urn:ietf:params:acme:error:badCSR", detail="test-only proxy: CSR refused")
    assert "urn:ietf:params:acme:error:badCSR: test-only proxy: CSR refused (HTTP 400)" in line, \
        line
    assert "ACMEKeyType" in line, "no hint in the line: " + line
    cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60)
    assert cert.sans == [v.name]
    assert inj.hits == 1
    orders = proxy.new_orders()
    assert len(orders) == 2, "expected a new order after the final problem:\n" + proxy.summary()
    finals = proxy.requests(path=FINALIZE_RX, method="POST")
    assert len(finals) == 2 and finals[0].injected and not finals[1].injected, proxy.summary()
    # the second finalize is for the second order, not the first one again
    assert finals[1].mono > orders[1].mono, proxy.summary()


def test_admin_problem_has_hint(pebble, proxy_factory, httpd_factory):
    """userActionRequired at newOrder (test-only proxy, once) needs the admin: the failed
    attempt's line says what to do; the module still retries after the backoff (the admin may
    have acted meanwhile) and then obtains the certificate."""
    v = VHost("useraction.mod-acme.test")
    _, _, httpd, line = _first_failure(
        pebble, proxy_factory, httpd_factory, v, r"^/order-plz$", status=403,
        identifier=v.name, problem_type="urn:ietf:params:acme:error:userActionRequired",
        detail="test-only proxy: new terms")
    assert re.search(r"userActionRequired: test-only proxy: new terms \(HTTP 403\); .*"
                     r"ACMEAgreeTerms", line), line
    cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60)
    assert cert.sans == [v.name]
