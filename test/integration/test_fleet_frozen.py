"""Issue 13: a frozen database host. Two httpd nodes share a real PostgreSQL 15 and get their
certificates from real pebble; pebble validates against one port, so the TEST-ONLY TCP
splitter (through fleet_harness) spreads its validation connections over the nodes.

The fault: every PostgreSQL process (the postmaster and its backends) is stopped with
SIGSTOP (each one: backends are session leaders of their own). The kernel still answers TCP, so keepalives and TCP_USER_TIMEOUT see nothing wrong
and a query would wait for ever; the database handle's watcher cuts a call that has had no
answer for ACME_FLEET_DB_CALL_MAX (10 s). Each node then says the database is unreachable
(acme-status, from the snapshot its watchdog writes each second: a blocked watchdog would
never write it) and keeps serving; after SIGCONT both say it is reachable again."""

import os
import signal
import time

import harness
import pg_harness
from fleet_harness import Fleet
from harness import VHost

NAME = "f1.fleetfrozen.test"
CALL_MAX = 10           # ACME_FLEET_DB_CALL_MAX


postgres = pg_harness.module_fixture(password="frozen-test-password")


def reachable(nd):
    f = nd.status_json().get("fleet") or {}
    return (f.get("database") or {}).get("reachable")


def signal_postgres(pg, sig):
    """The postmaster and every process it started (each backend is a session leader of
    its own, so the postmaster's process group is not enough)."""
    top = pg.proc.popen.pid
    pids = [top]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == top:
                        pids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def test_frozen_database_bounded(workdir, postgres, pebble_factory, timing):
    peb = pebble_factory()
    fleet = Fleet(workdir, postgres, peb, [VHost(NAME)], n=2)
    frozen = False
    try:
        fleet.start()
        certs, _ = fleet.wait_all_serve([NAME], timeout=120)
        harness.wait_for(lambda: all(reachable(nd) is True for nd in fleet.nodes), 30,
                         interval=0.5, what="both nodes with the database reachable")
        marks = {nd.name: nd.httpd.log_mark() for nd in fleet.nodes}
        signal_postgres(postgres, signal.SIGSTOP)
        frozen = True
        t0 = time.monotonic()
        try:
            harness.wait_for(lambda: all(reachable(nd) is False for nd in fleet.nodes),
                             CALL_MAX + 50, interval=0.5,
                             what="both nodes saying the frozen database is unreachable")
        except TimeoutError as exc:
            raise AssertionError("%s\n%s" % (exc, fleet.diagnostics())) from None
        timing("database frozen -> both nodes say unreachable", time.monotonic() - t0)
        assert any(nd.httpd.log_entries(r"ACME00723", since=marks[nd.name])
                   for nd in fleet.nodes), fleet.diagnostics()
        # still serving, from the local copy
        for nd in fleet.nodes:
            c = harness.fetch_cert(nd.httpd.https_port, NAME)
            assert harness.norm_serial(c.serial) == harness.norm_serial(certs[NAME].serial)
        signal_postgres(postgres, signal.SIGCONT)
        frozen = False
        harness.wait_for(lambda: all(reachable(nd) is True for nd in fleet.nodes), 60,
                         interval=0.5, what="both nodes with the database reachable again")
    finally:
        if frozen:
            signal_postgres(postgres, signal.SIGCONT)
        fleet.cleanup()
