#!/usr/bin/python3
"""Benchmark: issuance for N names in fleet mode, on 3 nodes against 1 node.

Each run starts from nothing: a fresh pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0)
and its DNS, a fresh database in one real PostgreSQL 15 (started by this tool, as in the
fleet tests), and empty local stores. The nodes are the fleet tests' (test/integration/
fleet_harness.py): N https vhosts each, `ACMEStore pgsql:`, one ACMEFleetKeyFile, distinct
ACMEFleetNode names, behind the test-only TCP splitter that spreads pebble's validation
connections round-robin over the nodes (pebble validates against one port). The 1-node
fleet goes through the same splitter and database, so the two differ only in the number
of nodes. Measured per run:

  live_s        first node's start -> EVERY node serves all N names pebble's certificate
                (TLS handshake per name per node, the same serial on every node)
  staged_s      first node's start -> the N-th "certificate X staged" line in any node's log
  orders        pebble's newOrder count (the fleet should order each name once)
  req_per_cert  ACME requests (pebble's "-> calling handler()" lines) until all served, / N
  ordered_by    how many certificates each node staged itself (the spread of the work)

Runs alternate which configuration goes first; the table has medians [min-max] and the ratio
3 nodes / 1 node (at most 1: the fleet is no slower). Not a test: nothing asserts speed.

    sudo /usr/bin/python3 bench/fleet.py                   # N = 100, 3 runs each (~10 min)
    sudo /usr/bin/python3 bench/fleet.py --n 10 --runs 1   # smoke test

Every server listens on 127.0.0.1 high ports and is stopped by its PID whatever the outcome;
every wait is bounded (--run-timeout).
"""

import argparse
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import pg_harness  # noqa: E402
from fleet_harness import Fleet  # noqa: E402
from harness import ChallTestSrv, Pebble, VHost  # noqa: E402
from startup import machine_facts, summary  # noqa: E402  (bench/startup.py, read-only)

DOMAIN = "fleet.bench.mod-acme.test"
HANDLER_RX = r"-> calling handler\(\)"
STAGED_RX = r"certificate (\S+) staged"
CONFIGS = (1, 3)
METRICS = [("live_s", "start -> every node serves all N", "s"),
           ("staged_s", "start -> all N staged (any node)", "s"),
           ("orders", "newOrder requests", ""),
           ("req_per_cert", "ACME requests per certificate", "")]


def out(msg=""):
    print(msg, flush=True)


def note(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def one_run(work, pg, nodes, n, timeout, keep=False):
    """One fleet of `nodes` nodes issuing n certificates; the run's figures."""
    names = ["v%04d.%s" % (i, DOMAIN) for i in range(1, n + 1)]
    cts = ChallTestSrv(os.path.join(work, "challtestsrv")).start()
    peb = fleet = None
    try:
        peb = Pebble(os.path.join(work, "pebble"), cts.dns_port, harness.free_port(),
                     harness.free_port()).start()
        base = peb.mark()
        fleet = Fleet(work, pg, peb, [VHost(x) for x in names], n=nodes,
                      extra_lines=["LogLevel acme:info"])
        load_before = os.getloadavg()[0]
        fleet.start()
        _, _ = fleet.wait_all_serve(names, timeout=timeout)
        live = time.monotonic() - fleet.started_at
        handler = peb.count(HANDLER_RX, since=base)
        staged_at, by_node = [], {}
        for nd in fleet.nodes:
            entries = nd.httpd.log_entries(STAGED_RX)
            by_node[nd.name] = len({re.search(STAGED_RX, line).group(1)
                                    for _t, line in entries})
            staged_at += [t for t, _line in entries if t]
        start_epoch = time.time() - (time.monotonic() - fleet.started_at)
        staged = (sorted(staged_at)[n - 1] - start_epoch) if len(staged_at) >= n else None
        return {"live_s": live, "staged_s": staged, "orders": peb.orders(since=base),
                "req_per_cert": handler / float(n), "ordered_by": by_node,
                "load_before": load_before, "load_after": os.getloadavg()[0]}
    finally:
        if fleet is not None:
            fleet.cleanup(keep=keep)
            if keep:
                note("  node roots kept: %s" % " ".join(nd.httpd.root for nd in fleet.nodes))
        for s in (peb, cts):
            if s is not None:
                s.stop()


def table(results, n):
    rows = ["| measure (N = %d) | 1 node median [min-max] | 3 nodes median [min-max] | "
            "ratio 3/1 |" % n, "|---|---|---|---|"]
    for key, label, unit in METRICS:
        cells, meds = [], {}
        for c in CONFIGS:
            vals = [r[key] for r in results if r["nodes"] == c and "error" not in r
                    and r.get(key) is not None]
            meds[c], cell = summary(vals, unit)
            cells.append(cell)
        ratio = "%.2f" % (meds[3] / meds[1]) if meds.get(1) and meds.get(3) is not None else "-"
        rows.append("| %s%s | %s | %s | %s |" % (label, " (%s)" % unit if unit else "",
                                                 cells[0], cells[1], ratio))
    spread = [r["ordered_by"] for r in results if r["nodes"] == 3 and "error" not in r]
    rows.append("")
    rows.append("certificates staged per node (3 nodes): %s" % "; ".join(
        ", ".join("%s %d" % kv for kv in sorted(s.items())) for s in spread))
    return "\n".join(rows)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="names (vhosts), default 100")
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration")
    ap.add_argument("--run-timeout", type=float, default=0,
                    help="seconds per run (default 120 + 3 s per name, at most 900)")
    ap.add_argument("--nodes", default="1,3", help="fleet sizes to run (default 1,3)")
    ap.add_argument("--json", default=None, help="append every run's result to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args(argv[1:])
    if os.geteuid() != 0:
        print("must run as root (httpd switches to User %s, postgres runs as postgres)"
              % harness.HTTPD_USER, file=sys.stderr)
        return 2
    timeout = args.run_timeout or min(900, 120 + 3 * args.n)
    out("# bench/fleet.py N=%d runs=%d; %s" % (args.n, args.runs, machine_facts()))
    top = harness.make_tempdir("mod_acme-bench-fleet-")
    pg = pg_harness.Postgres(os.path.join(top, "postgres"))
    results = []
    t_all = time.monotonic()
    try:
        pg.start()
        for run in range(args.runs):
            configs = [int(x) for x in args.nodes.split(",") if x.strip()]
            order = configs if run % 2 == 0 else list(reversed(configs))
            for nodes in order:
                work = harness.make_tempdir("mod_acme-bench-fleet-run-")
                note("run %d: %d node(s), N=%d" % (run + 1, nodes, args.n))
                r = {"nodes": nodes, "n": args.n, "run": run + 1}
                try:
                    r.update(one_run(work, pg, nodes, args.n, timeout, keep=args.keep))
                    note("  live %.1f s, %d orders, %.1f req/cert, staged by %r" % (
                        r["live_s"], r["orders"], r["req_per_cert"], r["ordered_by"]))
                except Exception as exc:  # noqa: BLE001 - a failed run is reported, not fatal
                    r["error"] = "%s: %s" % (type(exc).__name__, exc)
                    note("  FAILED (kept %s): %s" % (work, str(exc)[:300]))
                results.append(r)
                if args.keep:
                    note("  kept %s" % work)
                elif "error" not in r:
                    shutil.rmtree(work, ignore_errors=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")
    except KeyboardInterrupt:
        out("interrupted: partial results")
    finally:
        pg.stop()
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)
    loads = [r.get(k) for r in results for k in ("load_before", "load_after")
             if r.get(k) is not None]
    out("# %d run(s) in %.0f s; failed: %d; 1-min load average %.2f-%.2f" % (
        len(results), time.monotonic() - t_all, sum(1 for r in results if "error" in r),
        min(loads) if loads else 0, max(loads) if loads else 0))
    for r in results:
        if "error" in r:
            out("# FAILED %d node(s) run %d: %s" % (r["nodes"], r["run"], r["error"][:2000]))
    out("")
    out(table(results, args.n))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
