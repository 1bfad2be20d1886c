"""Issue 13: the back-off after a failed attempt holds for the whole fleet. Three httpd nodes
share a real PostgreSQL 15 and get their certificates from real pebble; pebble validates
against one port, so the TEST-ONLY TCP splitter (through fleet_harness) spreads its
validation connections over the nodes.

The fault is pebble's own: its domainBlocklist makes it refuse new orders for one name (no
proxy, nothing mocked). The node that holds that certificate's lease fails, records the
failure (orders/<id>/status.json, next attempt at least 1 min later) and publishes it with
the lease; the other nodes, due by their own plans, take the lease in turn, find the record
and wait as well. So pebble sees one newOrder for that name in the first minute, as with one
server, where without the shared record each node would make its own first attempt. The
other name is issued and served on every node meanwhile."""

import json
import os
import time

import harness
import pg_harness
from fleet_harness import Fleet
from harness import VHost

BAD = "bad.fleetbackoff.test"
GOOD = "good.fleetbackoff.test"
ORDER_RX = r"POST /order-plz"
WATCH = 30      # seconds after the first failure; the ladder's first step is 1 min


postgres = pg_harness.module_fixture(password="backoff-test-password")


def status_record(nd, name):
    path = os.path.join(nd.httpd.store, "orders", name, "status.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def test_failure_backoff_shared_by_the_fleet(workdir, postgres, pebble_factory, timing):
    peb = pebble_factory(blocklist=[BAD])
    fleet = Fleet(workdir, postgres, peb, [VHost(BAD), VHost(GOOD)], n=3)
    try:
        fleet.start()
        fleet.wait_all_serve([GOOD], timeout=120)

        def failed_once():
            for nd in fleet.nodes:
                rec = status_record(nd, BAD)
                if rec and rec.get("failures", 0) >= 1:
                    return nd
            return None
        first = harness.wait_for(failed_once, 90, interval=0.5,
                                 what="the first failed attempt for %s" % BAD)
        t_fail = time.monotonic()
        # every node is due for BAD by its own plan; for WATCH seconds none orders it
        others = [nd for nd in fleet.nodes if nd is not first]

        def all_know():
            return all((status_record(nd, BAD) or {}).get("failures", 0) >= 1
                       for nd in others)
        harness.wait_for(all_know, WATCH, interval=0.5,
                         what="the other nodes holding the fleet's failure record")
        time.sleep(max(0.0, WATCH - (time.monotonic() - t_fail)))
        # pebble's count: GOOD ordered once, BAD once (the nodes' logs say which is which)
        attempts = {nd.name: len(nd.httpd.log_entries(r"ACME00032: obtaining a certificate for "
                                                       + BAD.replace(".", r"\.")))
                    for nd in fleet.nodes}
        assert sum(attempts.values()) == 1, (attempts, fleet.diagnostics())
        assert peb.count(ORDER_RX) == 2, \
            "%d newOrder requests (GOOD once, BAD once expected)\n%s" % (
                peb.count(ORDER_RX), fleet.diagnostics())
        waited = [nd.name for nd in others if nd.httpd.log_entries(r"ACME00722.*%s" % BAD)]
        assert waited, fleet.diagnostics()
        for nd in fleet.nodes:
            rec = status_record(nd, BAD)
            assert rec["failures"] == 1, (nd.name, rec)
        timing("fleet of 3: one failed attempt, no other for", WATCH)
    finally:
        fleet.cleanup()
