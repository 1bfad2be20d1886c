"""Issue 13: `acmectl account rollover` and `deactivate` on one node of a fleet reach every
node. Two httpd nodes share a real PostgreSQL 15 and get their certificates from real pebble;
pebble validates against one port, so the TEST-ONLY TCP splitter (through fleet_harness)
spreads its validation connections over the nodes. No fault is injected.

acmectl changes the account at the CA and in the local store of the node it runs on, and
leaves a request (accounts/<name>/fleet-publish) that the node's watchdog carries out under
the `_account` lease: the account goes to the database and the other node pulls it. What the
CA thinks is asked of the CA: `acmectl account show` on the OTHER node's store signs with
that node's stored key, so pebble answers only once the new key has reached it. After a
deactivation exactly one new account is made (pebble's newAccount count) and both nodes end
up with it."""

import json
import os
import subprocess

import harness
import pg_harness
from fleet_harness import Fleet
from harness import VHost

NAME = "r1.fleetacct.test"
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
ACCOUNT_RX = r"POST /sign-me-up"


def acmectl(*args):
    res = subprocess.run([ACMECTL] + list(args), capture_output=True, text=True, timeout=60)
    print("$ acmectl %s -> %d\n%s%s" % (" ".join(args), res.returncode, res.stdout, res.stderr))
    return res


postgres = pg_harness.module_fixture(password="account-test-password")


def account_json(nd):
    d = os.path.join(nd.httpd.store, "accounts")
    names = [n for n in os.listdir(d) if not n.startswith(".")]
    assert len(names) == 1, names
    with open(os.path.join(d, names[0], "account.json")) as f:
        return names[0], json.load(f)


def ca_view(nd):
    """The account as pebble has it, asked with this node's stored key (None: refused)."""
    res = acmectl("--store", nd.httpd.store, "--json", "account", "show")
    if res.returncode != 0:
        return None
    return json.loads(res.stdout)


def test_rollover_and_deactivate_reach_every_node(workdir, postgres, pebble_factory, timing):
    peb = pebble_factory()
    fleet = Fleet(workdir, postgres, peb, [VHost(NAME)], n=2)
    try:
        fleet.start()
        certs, _ = fleet.wait_all_serve([NAME], timeout=120)
        one, two = fleet.nodes
        harness.wait_for(lambda: os.path.isdir(os.path.join(two.httpd.store, "accounts"))
                         and os.listdir(os.path.join(two.httpd.store, "accounts")), 30,
                         what="node2 pulled the account")
        name, rec0 = account_json(one)
        assert account_json(two) == (name, rec0)
        assert (ca_view(two) or {}).get("status") == "valid"
        assert peb.count(ACCOUNT_RX) == 1

        # ---- rollover on node1: node2 signs with the new key within a few ticks
        marks = {nd.name: nd.httpd.log_mark() for nd in fleet.nodes}
        res = acmectl("--store", one.httpd.store, "account", "rollover")
        assert res.returncode == 0 and "publishes accounts/%s" % name in res.stdout, res
        harness.wait_for(lambda: (ca_view(two) or {}).get("status") == "valid", 30,
                         interval=0.5, what="node2 signing with the new account key")
        assert one.httpd.log_entries(r"ACME00721.*%s" % name, since=marks[one.name]), \
            fleet.diagnostics()
        assert not os.path.exists(os.path.join(one.httpd.store, "accounts", name,
                                               "fleet-publish"))
        assert two.httpd.log_entries(r"ACME00648.*%s" % name, since=marks[two.name]), \
            fleet.diagnostics()
        assert (ca_view(one) or {}).get("status") == "valid"   # node1 kept its new key
        # node2 renews with it: the CA takes its orders, no new account
        res = acmectl("--store", two.httpd.store, "renew", NAME)
        assert res.returncode == 0, res
        certs2, _ = fleet.wait_all_serve([NAME], timeout=120,
                                         not_serials={NAME: certs[NAME].serial})
        assert peb.count(ACCOUNT_RX) == 1
        for nd in fleet.nodes:
            assert not nd.httpd.log_entries(r"ACME00205", since=marks[nd.name]), \
                fleet.diagnostics()

        # ---- deactivate on node1: both nodes learn it; one new account for the fleet
        marks = {nd.name: nd.httpd.log_mark() for nd in fleet.nodes}
        res = acmectl("--store", one.httpd.store, "account", "deactivate")
        assert res.returncode == 0 and "publishes accounts/%s" % name in res.stdout, res
        harness.wait_for(lambda: account_json(two)[1].get("status") == "deactivated", 30,
                         interval=0.5, what="node2 pulled the deactivation")
        for nd in fleet.nodes:   # both renew: each is due, only one makes the account
            res = acmectl("--store", nd.httpd.store, "renew", NAME)
            assert res.returncode == 0, res
        fleet.wait_all_serve([NAME], timeout=120, not_serials={NAME: certs2[NAME].serial})

        def same_new_account():
            a, b = account_json(one)[1], account_json(two)[1]
            return a.get("url") == b.get("url") and a["url"] != rec0["url"] \
                and "status" not in a and "status" not in b
        harness.wait_for(same_new_account, 30, interval=0.5,
                         what="both nodes on the one new account")
        assert peb.count(ACCOUNT_RX) == 2, "%d newAccount requests" % peb.count(ACCOUNT_RX)
        made = [nd.name for nd in fleet.nodes
                if nd.httpd.log_entries(r"ACME00205", since=marks[nd.name])]
        assert len(made) == 1, (made, fleet.diagnostics())
        assert (ca_view(two) or {}).get("status") == "valid"
    finally:
        fleet.cleanup()
