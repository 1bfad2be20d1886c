"""Issue 13: what every node of a fleet shows. Two httpd nodes share a real PostgreSQL 15
and get their certificates from real pebble; pebble validates against one port, so the
TEST-ONLY TCP splitter (tcp_splitter.py, through fleet_harness) spreads its validation
connections over the nodes. No fault is injected.

While a certificate is being ordered, every node's acme-status shows which node holds its
lease; afterwards each node shows both nodes (live, last heartbeat, what they activated at
their last start) and that the database is reachable, in the JSON, the server-status page
and its ?auto form. A status request reads the snapshot the watchdog writes
(orders/_fleet/fleet.json); it never asks the database."""

import json
import os
import subprocess

import harness
import pg_harness
from fleet_harness import Fleet, write_root_file
from harness import VHost

NAMES = ["s1.fleetstatus.test", "s2.fleetstatus.test"]
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))


def acmectl(*args):
    return subprocess.run([ACMECTL] + list(args), capture_output=True, text=True, timeout=60)


postgres = pg_harness.module_fixture(password="status-test-password")


def test_every_node_shows_nodes_and_leases(workdir, postgres, pebble_factory, timing):
    # pebble's random validation delay keeps each lease held for a while
    peb = pebble_factory(env={"PEBBLE_VA_NOSLEEP": None})
    fleet = Fleet(workdir, postgres, peb, [VHost(n) for n in NAMES], n=2)
    try:
        fleet.start()

        def lease_seen():
            # the node that does NOT hold a lease shows it too
            for nd in fleet.nodes:
                f = nd.status_json().get("fleet") or {}
                for le in f.get("leases", []):
                    if le["name"] in NAMES and le["owner"] != nd.name:
                        return nd.name, le
            return None
        shown_by, lease = harness.wait_for(lease_seen, 90, interval=0.2,
                                           what="a node showing another node's lease")
        assert lease["owner"] in fleet.node_names, lease
        assert lease["expires"] and lease["fence"] > 0, lease

        certs, waited = fleet.wait_all_serve(NAMES, timeout=120)
        timing("fleet of 2: start -> both nodes serve both certificates", waited)

        def settled():
            out = {}
            for nd in fleet.nodes:
                f = nd.status_json().get("fleet")
                if not f or not f["database"]["reachable"]:
                    return None
                nodes = {n["node"]: n for n in f.get("nodes", [])}
                if set(nodes) != set(fleet.node_names) or not all(
                        n["live"] for n in nodes.values()):
                    return None
                # each node activated the certificates at its last start, so its row says so
                if not all(set(n.get("info", {}).get("activated", [])) >= set(NAMES)
                           or set(n.get("info", {}).get("served", {})) >= set(NAMES)
                           for n in nodes.values()):
                    return None
                out[nd.name] = f
            return out
        snaps = harness.wait_for(settled, 60, interval=0.5,
                                 what="every node showing both live nodes")
        for name, f in snaps.items():
            assert f["node"] == name, f
            for row in f["nodes"]:
                assert row["last_beat"] and row["info"]["started"], row
                assert set(row["info"]["served"]) >= set(NAMES) or \
                    set(row["info"]["activated"]) >= set(NAMES), row
        for nd in fleet.nodes:
            auto = nd.httpd.get("/server-status?auto", "status.fleet.test").text
            assert "ACMEFleetNode: %s" % nd.name in auto, auto
            assert "ACMEFleetDatabase: reachable" in auto, auto
            assert "ACMEFleetNodesLive: 2" in auto, auto
            html = nd.httpd.get("/server-status", "status.fleet.test").text
            assert "ACME fleet" in html and all(n in html for n in fleet.node_names), html
        # no secret on any status page
        for nd in fleet.nodes:
            text = nd.status_json()
            assert postgres.password not in json.dumps(text)
        # acmectl shows the same snapshot (from the local store, no database)
        nd = fleet.nodes[0]
        res = acmectl("--store", nd.httpd.store, "fleet")
        assert res.returncode == 0, res
        assert "Node %s" % nd.name in res.stdout and "Database: reachable" in res.stdout, res
        assert all(n in res.stdout for n in fleet.node_names), res.stdout
        res = acmectl("--store", nd.httpd.store, "--json", "fleet")
        assert res.returncode == 0, res
        j = json.loads(res.stdout)
        assert j["node"] == nd.name and {n["node"] for n in j["nodes"]} == set(fleet.node_names)
        # outside fleet mode there is no snapshot: said, exit 1
        plain = os.path.join(workdir, "plain-store")
        os.makedirs(plain, exist_ok=True)
        res = acmectl("--store", plain, "fleet")
        assert res.returncode == 1 and "no fleet snapshot" in res.stderr, res
    finally:
        fleet.cleanup()


def test_fleet_key_broken_before_a_restart(httpd_factory, pebble, workdir):
    """ACMEFleetKeyFile becomes unusable while the node runs (no database needed: nothing
    listens on the conninfo's port). The graceful restart (as the module's own restarts are)
    keeps the server running: the key file's problem (ACME00124) and that this node orders
    nothing (ACME00654) are logged; configtest fails naming the file."""
    key = write_root_file(os.path.join(workdir, "restart-fleet.key"), "ab" * 32 + "\n")
    lines = harness.acme_lines(pebble, pebble.ca_file) + [
        'ACMEStore pgsql:"host=127.0.0.1 port=%d dbname=x user=x"' % harness.free_port(),
        'ACMEFleetKeyFile "%s"' % key, "ACMEFleetNode lonely"]
    v = VHost("kr.fleetstatus.test")
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], lines)
    # the MPM's signal handlers are set once it says so (ports accept a little earlier)
    httpd.wait_for(lambda: httpd.generations() >= 1, 30, what="apache2 up")
    with open(key, "w") as f:
        f.write("short\n")
    mark = httpd.log_mark()
    httpd.graceful()
    assert httpd.running()
    assert httpd.log_entries(r"ACME00124.*ACMEFleetKeyFile", since=mark), httpd.diagnostics()
    assert httpd.log_entries(r"ACME00654.*orders nothing", since=mark), httpd.diagnostics()
    r = httpd.get("/", v.name)
    assert r.status in (200, 404), r
    rc, out = httpd.configtest()
    assert rc != 0 and "ACMEFleetKeyFile" in out, out
