"""Issue 12: an order interrupted by the server's own graceful restart is not a failure.

Real pebble with its validation delay (PEBBLE_VA_NOSLEEP unset, PEBBLE_VA_SLEEPTIME) keeps the
orders of several vhosts in flight; the test sends httpd a graceful restart while they are.
The old generation's watchdog child, told by the child_stopping hook, stops each order at its
next wait and records it as interrupted (ACME00752 says how many); the new generation's
resumes each from its stored order state at once. Asserted: the run was cut short, every
vhost is served within a bound well under the 60 s backoff a failure would cost, and nothing
was recorded as a failure (no ACME00031 line, no failure record in the status JSON or
`acmectl show`). No proxy."""

import glob
import json
import os
import subprocess
import time

import harness
import status_helpers as sh
from harness import VHost

ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
VHOSTS = [VHost("inflight%d.mod-acme.test" % i) for i in range(6)]
# all served within this after the restart: a failed order would wait the 60 s backoff
SERVED_BOUND = 40


def _in_flight(store):
    return [p.split(os.sep)[-2] for p in glob.glob(os.path.join(store, "orders", "*", "order.json"))
            if not p.split(os.sep)[-2].startswith("_")]


def _start_with_orders_in_flight(pebble_factory, httpd_factory):
    peb = pebble_factory(env={"PEBBLE_VA_NOSLEEP": None, "PEBBLE_VA_SLEEPTIME": "8"})
    httpd = httpd_factory(VHOSTS + [sh.status_vhost()],
                          acme_lines=harness.acme_lines(peb, peb.ca_file))
    flying = httpd.wait_for(lambda: len(_in_flight(httpd.store)) >= 3 and _in_flight(httpd.store),
                            30, interval=0.05, what="orders in flight")
    print("in flight: %s" % flying)
    return peb, httpd


def _assert_no_failure(httpd):
    """Nothing counts as a failure: no log line, no record, no backoff."""
    failed = httpd.log_entries(r"ACME00031", since=0)
    assert not failed, "orders recorded as failed:\n" + "\n".join(t for _, t in failed)
    status, j = sh.status_json(httpd)
    assert status == 200, j
    for c in j["certificates"]:
        if c["id"] == sh.STATUS_HOST:
            continue
        assert c["failures"] == 0 and c["last_error"] is None, c
    for v in VHOSTS:
        res = subprocess.run([ACMECTL, "--store", httpd.store, "--json", "show", v.name],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        shown = json.loads(res.stdout)
        shown = shown[0] if isinstance(shown, list) else shown
        assert shown.get("failures", 0) == 0 and not shown.get("last_error"), shown


def _served_after(httpd, peb, action, what, timing):
    """action(), then every vhost served within SERVED_BOUND of it."""
    t0 = time.monotonic()
    action()
    for v in VHOSTS:
        left = SERVED_BOUND - (time.monotonic() - t0)
        httpd.wait_for_cert(v.name, peb, timeout=max(left, 1), names=v.names)
    timing("%s -> all %d served" % (what, len(VHOSTS)), time.monotonic() - t0)


def test_graceful_restart_with_orders_in_flight(pebble_factory, httpd_factory, timing):
    peb, httpd = _start_with_orders_in_flight(pebble_factory, httpd_factory)
    mark = httpd.log_mark()
    _served_after(httpd, peb, httpd.graceful, "graceful restart with orders in flight",
                  timing)
    print("\n".join(t for _, t in httpd.log_entries(r"ACME0075|ACME0003[0-4]|ACME00041|AH0049",
                                                       since=mark)))
    # the restart did cut the run short (else this test tested nothing)
    cut = httpd.log_entries(r"ACME00752", since=mark)
    assert cut, "no run was cut short by the restart (ACME00752)"
    _assert_no_failure(httpd)


def test_stop_with_orders_in_flight(pebble_factory, httpd_factory, timing):
    """`apachectl stop` (SIGTERM) while orders are in flight: the ending watchdog child
    records them as interrupted, and the next start resumes them, with no failure."""
    peb, httpd = _start_with_orders_in_flight(pebble_factory, httpd_factory)
    mark = httpd.log_mark()
    t0 = time.monotonic()
    httpd.stop()
    timing("stop with orders in flight", time.monotonic() - t0)
    cut = httpd.log_entries(r"ACME0075[23]", since=mark)
    print("\n".join(t for _, t in cut))
    assert any("ACME00752" in t for _, t in cut), "the run was not cut short (ACME00752)"
    left = _in_flight(httpd.store)
    assert left, "no order state left to resume"
    _served_after(httpd, peb, httpd.start, "start after a stop with orders in flight",
                  timing)
    _assert_no_failure(httpd)
