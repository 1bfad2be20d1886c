#!/usr/bin/python3
"""Start-up with N certificates already in the store: mod_acme against the same vhosts
with static SSLCertificateFile lines (mod_ssl's own cost, the floor).

Needs a store that holds N live certificates for v0001.bench.mod-acme.test ... (the work
directory `bench/startup.py --n N --modules acme --keep` leaves: WORK/httpd/acme). Each run
copies it into a fresh ServerRoot, so every run starts from the same store. No CA runs:
nothing is due, and the watchdog's failed look at the CA costs nothing measured here.

For each mode and run:
  first_https_s   process start -> first TLS handshake on the https port that returns the
                  CA's certificate for the last vhost (not the fallback), polled every 20 ms
  parent_rss_kb   the root parent's RSS at that moment (/proc/PID/status VmRSS)
  parent_anon_kb  the root parent's anonymous memory (/proc/PID/smaps_rollup Anonymous)
  total_rss_kb    RSS summed over the server's processes (parent and children)
  total_pss_kb    PSS summed likewise (shared pages counted once)
  parent_heap_kb, parent_mmap_kb  parent_anon_kb split: malloc heap / anonymous mappings
                  (APR's pools are mmap'd blocks on Debian)
  restart_s       then SIGUSR1 (graceful restart, nothing due) -> the new generation
                  answers a handshake for the last vhost with its certificate

    sudo /usr/bin/python3 bench/startup_profile.py --store /tmp/acme-bench-acme-1000-X/httpd/acme
    sudo /usr/bin/python3 bench/startup_profile.py --store DIR --runs 5 --modes acme

Every server listens on 127.0.0.1 high ports and is stopped by its PID; waits are bounded.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import harness  # noqa: E402
from harness import Httpd, VHost  # noqa: E402

DOMAIN = "bench.mod-acme.test"
PLAIN = "plain." + DOMAIN
KEYS = ("first_https_s", "restart_s", "parent_rss_kb", "parent_anon_kb", "parent_heap_kb", "parent_mmap_kb",
        "total_rss_kb", "total_pss_kb")


def note(msg):
    print("[startup_profile %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr,
          flush=True)


def live_ids(store):
    live = os.path.join(store, "live")
    return sorted(d for d in os.listdir(live) if d.startswith("v") and d.endswith(DOMAIN))


def proc_kb(pid, fname, field):
    try:
        with open("/proc/%d/%s" % (pid, fname)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def anon_split(pid):
    """The parent's anonymous memory in kB: in the malloc heap ([heap]) and elsewhere
    (anonymous mappings: APR's pools, large mallocs, thread stacks)."""
    heap = other = 0
    name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split()[0]
                if not first.endswith(":"):
                    parts = line.split()
                    name = parts[5] if len(parts) > 5 else ""
                elif first == "Anonymous:":
                    if name == "[heap]":
                        heap += int(line.split()[1])
                    else:
                        other += int(line.split()[1])
    except OSError:
        pass
    return heap, other


def wait_served(httpd, name, end, ready, interval, what):
    """Until ready() and a handshake for name returns a CA's certificate; bounded by end."""
    while True:
        if not httpd.running():
            raise harness.HarnessError("apache2 exited:\n" + httpd.diagnostics())
        try:
            c = httpd.cert(name) if ready() else None
            if c is not None and not (c.is_fallback or c.self_signed):
                return
        except (OSError, harness.HarnessError):
            pass
        if time.monotonic() > end:
            raise harness.HarnessError("%s by the deadline" % what)
        time.sleep(interval)


def one_run(mode, store, ids, timeout, perf=None, keep=False):
    work = harness.make_tempdir("acme-startup-%s-%d-" % (mode, len(ids)))
    root = os.path.join(work, "httpd")
    http_port, https_port = harness.free_port(), harness.free_port()
    vhosts = [VHost(PLAIN, ssl=False)]
    if mode == "acme":
        # store: one copy for all runs of this invocation (a store persists between starts)
        alines = harness.acme_lines("https://127.0.0.1:9/dir", "/etc/ssl/certs/ca-certificates.crt",
                                    extra=["ACMEChallenges http-01", 'ACMEStore "%s"' % store])
        vhosts += [VHost(i) for i in ids]
        httpd = Httpd(root, http_port, https_port, vhosts=vhosts, acme_lines=alines,
                      global_lines=["LogLevel acme:info"], load_acme=True)
    else:
        certs = os.path.join(work, "certs")
        os.makedirs(certs)
        for i in ids:
            for f in ("chain.pem", "key.pem"):
                shutil.copy(os.path.join(store, "live", i, f), os.path.join(certs, i + "." + f))
        vhosts += [VHost(i, lines=['SSLCertificateFile "%s/%s.chain.pem"' % (certs, i),
                                   'SSLCertificateKeyFile "%s/%s.key.pem"' % (certs, i)])
                   for i in ids]
        httpd = Httpd(root, http_port, https_port, vhosts=vhosts, load_acme=False)
    res = {"mode": mode, "n": len(ids), "work": work}
    if perf:
        # a time profile of the start (the memory figures are then perf's, not httpd's)
        httpd.proc.argv = ["perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-o",
                           "%s.%s.data" % (perf, mode), "--"] + httpd.proc.argv
    last = ids[-1]
    try:
        t0 = time.monotonic()
        httpd.proc.start()
        wait_served(httpd, last, t0 + timeout, lambda: True, 0.02, "no https answer")
        res["first_https_s"] = time.monotonic() - t0
        pid = httpd.pid
        res["parent_rss_kb"] = proc_kb(pid, "status", "VmRSS")
        res["parent_anon_kb"] = proc_kb(pid, "smaps_rollup", "Anonymous")
        res["parent_heap_kb"], res["parent_mmap_kb"] = anon_split(pid)
        pids = harness.server_pids(os.getpgid(pid))
        res["total_rss_kb"] = sum(proc_kb(p, "status", "VmRSS") for p in pids)
        res["total_pss_kb"] = sum(proc_kb(p, "smaps_rollup", "Pss") for p in pids)
        res["processes"] = len(pids)
        # graceful restart with nothing to do: SIGUSR1 -> the new generation serves
        before = httpd.generations()
        t1 = time.monotonic()
        httpd.proc.signal(signal.SIGUSR1)
        wait_served(httpd, last, t1 + timeout, lambda: httpd.generations() > before, 0.05,
                    "not serving again")
        res["restart_s"] = time.monotonic() - t1
    finally:
        httpd.stop()
        if keep:
            note("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return res


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="a store with N live certificates")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="static,acme")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N certificates")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--in-place", action="store_true",
                    help="start on --store itself instead of a copy (it is changed: meta.json "
                         "rebuilt, the verified-sets cache written)")
    ap.add_argument("--perf", help="record a perf profile of each start to PREFIX.MODE.data")
    args = ap.parse_args(argv)
    ids = live_ids(args.store)
    if args.limit:
        ids = ids[:args.limit]
    if not ids:
        sys.exit("no live certificates v*.%s in %s" % (DOMAIN, args.store))
    modes = args.modes.split(",")
    results = {m: [] for m in modes}
    if "acme" in modes and args.in_place:
        cold = one_run("acme", args.store, ids, args.timeout)
    elif "acme" in modes:
        # the runs share one copy of the store, as starts of one server do; the first start
        # after the copy verifies every set (new files), it is reported on its own
        shared = harness.make_tempdir("acme-startup-store-")
        shutil.copytree(args.store, os.path.join(shared, "acme"), symlinks=True)
        args.store = os.path.join(shared, "acme")
        cold = one_run("acme", args.store, ids, args.timeout)
        note("cold start (store just copied: every set verified): %s" % " ".join(
            "%s=%s" % (k, round(cold[k], 3)) for k in KEYS))
    for r in range(args.runs):
        for mode in (modes if r % 2 == 0 else list(reversed(modes))):
            res = one_run(mode, args.store, ids, args.timeout, args.perf, args.keep)
            note("run %d %s N=%d: %s" % (r + 1, mode, len(ids),
                                          " ".join("%s=%s" % (k, round(res[k], 3)) for k in KEYS)))
            results[mode].append(res)
    print("N=%d, %d runs, load %.2f" % (len(ids), args.runs, os.getloadavg()[0]))
    print("| measure | " + " | ".join(modes) + (" | ratio acme/static |" if
                                                   "acme" in modes and "static" in modes else " |"))
    print("|---|" + "---|" * len(modes) + ("---|" if "acme" in modes and "static" in modes else ""))
    for k in KEYS:
        med = {m: statistics.median(x[k] for x in results[m]) for m in modes}
        f = "%.2f [%.2f-%.2f]" if k.endswith("_s") else "%.0f [%.0f-%.0f]"
        row = "| %s | " % k + " | ".join(
            f % (med[m], min(x[k] for x in results[m]), max(x[k] for x in results[m]))
            for m in modes)
        if "acme" in modes and "static" in modes:
            row += " | %.2f" % (med["acme"] / med["static"] if med["static"] else 0)
        print(row + " |")
    if "acme" in modes:
        print("acme, first start after the store was copied (every set verified): "
              "first_https_s %.2f, parent_anon_kb %d" % (cold["first_https_s"],
                                                          cold["parent_anon_kb"]))
        if not args.in_place:
            shutil.rmtree(os.path.dirname(args.store), ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
