"""Issue 13: fleet mode. Three httpd nodes (own ServerRoot and local store each) share one
real PostgreSQL 15 (`ACMEStore pgsql:`, password from ACMEStorePasswordFile, scram checked by
the server) and one ACMEFleetKeyFile, and get their certificates from real pebble 2.10.

Pebble validates against one port, so the TEST-ONLY TCP splitter (tcp_splitter.py) hands its
validation connections round-robin to the three nodes (skipping one that refuses, as a load
balancer would): a validation reaches a node that did not place the order. That splitter is
the only thing between pebble and the nodes; it injects no fault. Each test has a pebble and
a database of its own (orders and accounts counted from pebble's log)."""

import os
import re
import time

import pytest

import harness
import pg_harness
from fleet_harness import Fleet
from harness import VHost

PASSWORD = "fleet-test-password"
LEASE_TTL = 15          # ACME_FLEET_LEASE_TTL
INTERVAL = 1            # ACME_FLEET_TICK: the check interval
ACCOUNT_RX = r"POST /sign-me-up"


postgres = pg_harness.module_fixture(password=PASSWORD)


@pytest.fixture
def fleet_factory(request, workdir, postgres):
    """make(pebble, vhosts, **kw) -> a Fleet (not started) with a database of its own.
    Stopped whatever the outcome; diagnostics printed when the test failed."""
    made = []

    def make(peb, vhosts, **kw):
        f = Fleet(workdir, postgres, peb, vhosts, **kw)
        made.append(f)
        return f
    try:
        yield make
    finally:
        failed = any(getattr(getattr(request.node, "rep_" + w, None), "failed", False)
                     for w in ("setup", "call"))
        for f in made:
            if failed:
                print(f.diagnostics())
            f.cleanup(keep=failed and bool(os.environ.get("ACME_TEST_KEEP")))
        if not postgres.running():     # a test stopped it and failed before restarting it
            postgres.start()


def vhosts(names):
    return [VHost(n) for n in names]


def names_of(prefix, n):
    return ["%s%02d.fleet.test" % (prefix, i) for i in range(n)]


def test_20_vhosts_3_nodes_one_order_each(fleet_factory, pebble_factory, timing):
    """Test 1: empty store: every certificate ordered exactly once fleet-wide, one account,
    and all three nodes serve all 20 (TLS handshake per SNI per node, pebble's leaf) within
    60 s of the first start."""
    peb = pebble_factory()
    names = names_of("v", 20)
    fleet = fleet_factory(peb, vhosts(names))
    fleet.start()
    certs, _ = fleet.wait_all_serve(names, timeout=150)
    elapsed = time.monotonic() - fleet.started_at
    timing("fleet of 3: first start -> all 3 nodes serve all 20 certificates", elapsed)
    print(fleet.split_http.summary())
    assert peb.orders() == 20, "pebble saw %d orders for 20 certificates" % peb.orders()
    assert peb.count(ACCOUNT_RX) == 1, "%d newAccount requests" % peb.count(ACCOUNT_RX)
    assert len({c.serial for c in certs.values()}) == 20
    for n, c in certs.items():
        assert c.sans == [n], c
    # validations reached more than the ordering node (the splitter spread them)
    assert sum(1 for v in fleet.split_http.counts.values() if v) >= 2, \
        fleet.split_http.summary()
    assert elapsed <= 60, "all 3 nodes served all 20 only %.1f s after the first start" % elapsed
    time.sleep(5)       # no node orders again what another one published
    assert peb.orders() == 20, "%d orders 5 s later" % peb.orders()


def test_kill9_lease_holder_mid_order(fleet_factory, pebble_factory, timing):
    """Test 2: kill -9 the node that holds a certificate's lease (read from the database's
    lease table) while its order is under way: another node takes the lease over within the
    lease's expiry plus one interval and completes; one account; at most one extra order.
    Pebble's random validation delay (PEBBLE_VA_NOSLEEP unset) keeps orders long enough to
    be caught mid-way."""
    peb = pebble_factory(env={"PEBBLE_VA_NOSLEEP": None})
    names = names_of("k", 3)
    fleet = fleet_factory(peb, vhosts(names))
    fleet.start()

    def held():
        if peb.orders() < 1:
            return None
        for name, owner, left, fence in fleet.leases():
            if not name.startswith("_") and left > 0:
                return name, owner, left, fence
        return None
    name, owner, left, fence = harness.wait_for(held, 90, interval=0.1,
                                                what="a certificate lease held mid-order")
    orders_at_kill = peb.orders()
    marks = {nd.name: nd.httpd.log_mark() for nd in fleet.nodes}
    t_kill = time.monotonic()
    fleet.kill9(owner)
    print("killed %s holding the lease of %s (fence %d, %.1f s left); %d order(s) so far" % (
        owner, name, fence, left, orders_at_kill))
    took_rx = r"ACME00649: certificate %s: node (\S+) took the lease over" % re.escape(name)

    def taken_over():
        for n, o, _left, f in fleet.leases():
            if n == name and o != owner and f > fence:
                return o, f
        # the new holder may finish the resumed order and release the lease between two
        # looks at the table: its log line says it took it (the fence is then unknown)
        for nd in fleet.nodes:
            if nd.name == owner:
                continue
            for _t, line in nd.httpd.log_entries(took_rx, since=marks[nd.name]):
                return re.search(took_rx, line).group(1), -1
        return None
    new_owner, new_fence = harness.wait_for(taken_over, left + INTERVAL + 30, interval=0.2,
                                            what="another node taking the lease of %s" % name)
    t_taken = time.monotonic() - t_kill
    timing("kill -9 of the lease holder -> lease taken over (expiry %.1f s + %d s interval)"
           % (left, INTERVAL), t_taken)
    certs, _ = fleet.wait_all_serve(names, timeout=150)
    t_done = time.monotonic() - t_kill
    timing("kill -9 of the lease holder -> both other nodes serve all 3", t_done)
    print("%s took the lease over after %.1f s (fence %d); done after %.1f s; %d orders" % (
        new_owner, t_taken, new_fence, t_done, peb.orders()))
    assert new_owner in fleet.node_names and new_owner != owner
    # within the lease's expiry plus one interval (plus 3 s for a loaded machine)
    assert t_taken <= left + INTERVAL + 3, \
        "lease taken over %.1f s after the kill; it expired after %.1f s" % (t_taken, left)
    assert peb.count(ACCOUNT_RX) == 1, "%d newAccount requests" % peb.count(ACCOUNT_RX)
    assert peb.orders() <= len(names) + 1, "%d orders for %d certificates" % (
        peb.orders(), len(names))


def test_postgres_restarted_during_issuance(fleet_factory, pebble_factory, postgres, timing):
    """Test 3: PostgreSQL stops (fast shutdown) while orders are under way and comes back
    5 s later: the nodes keep serving meanwhile, retry, and finish; each certificate is
    ordered at most twice."""
    peb = pebble_factory(env={"PEBBLE_VA_NOSLEEP": None})
    names = names_of("r", 6)
    fleet = fleet_factory(peb, vhosts(names))
    fleet.start()
    harness.wait_for(lambda: peb.orders() >= 1, 90, interval=0.1, what="a first order")
    marks = {nd.name: nd.httpd.log_mark() for nd in fleet.nodes}
    postgres.stop()
    t_down = time.monotonic()
    try:
        # every node keeps answering http and https while the database is down
        for _ in range(3):
            for nd in fleet.nodes:
                r = nd.httpd.get("/", names[0])
                assert r.status in (200, 404), (nd, r)
                harness.fetch_cert(nd.httpd.https_port, names[0])
            time.sleep(1)
        down = [nd.name for nd in fleet.nodes if nd.httpd.log_entries(
            r"ACME00640|fleet database unreachable", since=marks[nd.name])]
    finally:
        time.sleep(max(0.0, 5 - (time.monotonic() - t_down)))
        postgres.start()
    certs, _ = fleet.wait_all_serve(names, timeout=180)
    timing("PostgreSQL back -> all 3 nodes serve all 6", time.monotonic() - t_down - 5)
    assert down, "no node logged that the database was unreachable"
    back = [nd.name for nd in fleet.nodes if nd.httpd.log_entries(
        r"ACME00641|reachable again", since=marks[nd.name])]
    assert set(down) <= set(back), "down: %r, back again: %r" % (down, back)
    assert peb.count(ACCOUNT_RX) == 1
    assert peb.orders() <= 2 * len(names), "%d orders for %d certificates" % (
        peb.orders(), len(names))
    assert len({c.serial for c in certs.values()}) == len(names)


@pytest.mark.pebble210
def test_renewal_once_fleet_wide(fleet_factory, pebble_factory, timing):
    """Test 4: short-lived certificates (pebble profile validityPeriod 90 s): each is renewed
    once fleet-wide (one new order per certificate), and all three nodes serve the new
    serial. The renew window (33 %: 60 s after issuance) decides, not ARI: pebble 2.10's
    renewal window for such a certificate is its whole lifetime, so each certificate would
    be renewed at a random moment, and its successor again, and "once" could not be
    counted."""
    validity = 90
    peb = pebble_factory(validity=validity)
    names = names_of("n", 3)
    fleet = fleet_factory(peb, vhosts(names), extra_lines=["ACMERenewalInfo off"])
    fleet.start()
    first, _ = fleet.wait_all_serve(names, timeout=120)
    assert peb.orders() == len(names)
    mark = peb.mark()
    renewed, waited = fleet.wait_all_serve(names, timeout=validity + 90,
                                           not_serials={n: c.serial for n, c in first.items()})
    timing("first certificates served -> all 3 nodes serve the renewed ones", waited)
    for n in names:
        assert renewed[n].not_after > first[n].not_after, (first[n], renewed[n])
    time.sleep(3)
    assert peb.orders(since=mark) == len(names), "%d renewal orders for %d certificates" % (
        peb.orders(since=mark), len(names))
    # every node activated the new generation with its own graceful restart
    for nd in fleet.nodes:
        assert nd.httpd.generations() >= 3, (nd, nd.httpd.generations())


def test_database_unreachable_at_start(fleet_factory, pebble_factory, postgres, timing):
    """Test 5: a node that obtained its certificates stops; the database is down when it
    starts again: it starts with its local copy, serves the same certificates at once, and
    says so in the error log and on its status page; once the database is back it says that
    too."""
    peb = pebble_factory()
    names = names_of("u", 2)
    fleet = fleet_factory(peb, vhosts(names), n=1)
    fleet.start()
    certs, _ = fleet.wait_all_serve(names, timeout=90)
    nd = fleet.nodes[0]
    nd.httpd.stop()
    postgres.stop()
    try:
        mark = nd.httpd.log_mark()
        t0 = time.monotonic()
        nd.httpd.start()
        timing("start with the database down -> serving", time.monotonic() - t0)
        for n in names:
            c = nd.httpd.cert(n)
            assert c.serial == certs[n].serial, (n, c, certs[n])
        r = nd.httpd.get("/", names[0], tls=True)
        assert r.status == 200, r
        logged = nd.httpd.wait_for(lambda: nd.httpd.log_entries(
            r"ACME00640|fleet database unreachable", since=mark), 30,
            what="the log line saying the database is unreachable")
        print(logged[0][1])
        assert "password" not in logged[0][1].lower() or "***" in logged[0][1]

        def status_says_down():
            text = nd.status_text()
            return re.search(r'"reachable"\s*:\s*false|unreachable', text) and text
        text = nd.httpd.wait_for(status_says_down, 30, what="the status page saying so")
        assert PASSWORD not in text
        mark2 = nd.httpd.log_mark()
    finally:
        postgres.start()
    nd.httpd.wait_for(lambda: nd.httpd.log_entries(r"ACME00641|reachable again", since=mark2),
                      60, what="the log line saying the database is back")
    assert PASSWORD not in nd.httpd.error_log()
    assert peb.orders() == len(names)
