#!/usr/bin/python3
"""Benchmark: mod_acme against Debian's mod_md and against the floors, side by side in one run.

For N https vhosts, a fresh pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0) and its DNS
(pebble-challtestsrv), each run of a module measures, with an empty store:

  first_answer_s    process start -> first HTTP answer (GET / on the plain port)
  staged_s          process start -> all N certificates obtained (staged; from the error log)
  req_per_cert      ACME requests (pebble's "-> calling handler()" lines) until then, / N
  cpu_*_s, busy_pct CPU (utime+stime from /proc) of pebble, the httpd parent, the busiest
                    child (mod_acme: its watchdog child) and the other children until all
                    staged; busy_pct = all that CPU / (staged_s x nproc)
  live_s            mod_acme only: process start -> all N served (its own graceful restart)
  activation_s      restart signal -> all N served (mod_acme: its own SIGUSR1, ACME00041;
                    mod_md: the SIGUSR1 this tool sends once all are staged)
  restart_s         N certificates live, nothing due: SIGUSR1 -> new generation serving
  restart_requests  ACME requests caused by that restart
and then with the N certificates in its store (httpd stopped and started again):
  configtest_s      `apache2 -t`
  startup_https_s   process start -> first verified https answer (last vhost's name)
  parent_rss_mb, parent_anon_mb, total_mb   once serving: the parent's VmRSS and RssAnon,
                    the sum over all httpd processes (PSS from smaps_rollup, else RSS)
  renew_req_per_cert, renew_s   mod_acme only: `acmectl renew --all` -> all N staged again

The floors: "static" is the same httpd without an ACME module, every vhost with its own
SSLCertificateFile/SSLCertificateKeyFile (P-256, made once and cached, benchlib.py); it gives
the start-up, memory, configtest and restart floor. "floor" is bench/pebble_floor.py, a minimal
ACME client with the module's request sequence against a fresh pebble of the same
configuration; it gives the issuance floor (time for N, requests per certificate).

Runs are interleaved (who goes first rotates); the table shows medians [min-max] and the
ratios mod_acme/mod_md and mod_acme/floor. Not a test: nothing here asserts speed.

    sudo /usr/bin/python3 bench/startup.py                       # N=1,20,100, 3 runs each
    sudo /usr/bin/python3 bench/startup.py --n 2 --runs 1        # smoke test
    sudo /usr/bin/python3 bench/startup.py --modules acme,static --n 5
    sudo bash bench/run-all.sh                                   # every table of PERFORMANCE.md

Every server listens on 127.0.0.1 high ports, is stopped by its PID whatever the outcome,
and every wait is bounded (--run-timeout per run and module).
"""

import argparse
import json
import os
import re
import shlex
import signal
import sys
import time

import benchlib
from benchlib import (BenchError, Deadline, DOMAIN, HANDLER_RX, LogTail, PLAIN, names,  # noqa
                      note, out, poll)
import harness
from harness import Httpd, VHost
import pebble_floor

MODULES = ("acme", "md", "static", "floor")
ACME_MODULES = ("acme", "md")
LABEL = {"acme": "mod_acme", "md": "mod_md", "static": "static", "floor": "client"}
ACMECTL = os.environ.get("ACMECTL") or os.path.join(harness.REPO, "build", "tools", "acmectl")

A, M, S, F = "acme", "md", "static", "floor"
METRICS = [
    # key, label, unit, modules that have it (the floor column: static or the client)
    ("first_answer_s", "empty store: start -> first HTTP answer", "s", (A, M)),
    ("staged_s", "empty store: start -> all N obtained (staged)", "s", (A, M, F)),
    ("req_per_cert", "ACME requests per certificate, first issuance", "", (A, M, F)),
    ("busy_pct", "CPU busy during issuance, % of all cores", "", (A, M)),
    ("cpu_pebble_s", "CPU during issuance: pebble", "s", (A, M, F)),
    ("cpu_httpd_parent_s", "CPU during issuance: httpd parent", "s", (A, M)),
    ("cpu_busiest_child_s", "CPU during issuance: busiest child (mod_acme: watchdog)", "s",
     (A, M)),
    ("cpu_other_children_s", "CPU during issuance: other children", "s", (A, M)),
    ("cpu_client_s", "CPU during issuance: the minimal client", "s", (F,)),
    ("live_s", "empty store: start -> all N served live, no operator action", "s", (A,)),
    ("activation_s", "activation restart: signal -> all N served", "s", (A, M)),
    ("restart_s", "graceful restart, nothing due: SIGUSR1 -> serving", "s", (A, M, S)),
    ("restart_requests", "ACME requests at that restart", "", (A, M)),
    ("configtest_s", "N in the store: apache2 -t", "s", (A, M, S)),
    ("startup_https_s", "N in the store: start -> first verified https answer", "s", (A, M, S)),
    ("parent_rss_mb", "N in the store, serving: parent RSS", "MB", (A, M, S)),
    ("parent_anon_mb", "N in the store, serving: parent RssAnon", "MB", (A, M, S)),
    ("total_mb", "N in the store, serving: all httpd processes (PSS)", "MB", (A, M, S)),
    ("renew_req_per_cert", "ACME requests per certificate, renewal (acmectl renew --all)", "",
     (A,)),
    ("renew_s", "renewal: acmectl renew --all -> all N staged", "s", (A,)),
    ("renew_failed", "renewals that failed (CA error; retried later, not waited for)", "", (A,)),
]


def module_lines(module, peb, http_port, https_port, n, md_keys=None, acme_extra=()):
    if module == "acme":
        # the same challenge type for both modules; info level like mod_md (the harness
        # sets acme:debug)
        return (["LogLevel acme:info"],
                harness.acme_lines(peb, peb.ca_file,
                                   extra=["ACMEChallenges http-01"] + list(acme_extra)))
    md = ["LoadModule md_module %s/mod_md.so" % harness.APACHE_MODDIR,
          "MDCertificateAuthority %s" % peb.directory_url,
          'MDCACertificateFile "%s"' % peb.ca_file,
          "MDCertificateAgreement accepted",
          "MDContactEmail %s" % harness.CONTACT,
          "MDPortMap http:%d https:%d" % (http_port, https_port),
          "MDCAChallenges http-01"]
    if md_keys:
        md.append("MDPrivateKeys %s" % md_keys)
    md += ["MDomain %s" % nm for nm in names(n)]
    return md, []


def print_commands(cts, peb, httpd, module, n):
    env = " ".join("%s=%s" % (k, peb.env[k]) for k in sorted(harness.DEFAULT_PEBBLE_ENV))
    out("  commands (%s, N=%d):" % (LABEL[module], n))
    out("    " + " ".join(shlex.quote(a) for a in cts.proc.argv))
    out("    %s %s" % (env, " ".join(shlex.quote(a) for a in peb.proc.argv)))
    out("      pebble config: %s" % json.dumps(json.load(open(peb.config_file))["pebble"]))
    out("    " + " ".join(shlex.quote(a) for a in httpd.proc.argv))
    lines = httpd.config_lines()
    mod = [line for line in lines if line.startswith(("LoadModule acme", "LoadModule md", "MD",
                                                      "ACME", "LogLevel", "Listen"))]
    shown = mod if len(mod) <= 14 else mod[:12] + ["... (%d lines)" % len(mod)]
    out("      httpd.conf (module lines): " + " | ".join(shown))
    out("      vhosts: <VirtualHost *:%d> ServerName %s (plain, first = default of that port); "
        "%d x <VirtualHost *:%d> ServerName v00001.%s ... SSLEngine on"
        % (httpd.http_port, PLAIN, n, httpd.https_port, DOMAIN))


def wait_quiet(peb, deadline, quiet=3.0, minimum=0.0, limit=60.0):
    """Until pebble's log has not grown for `quiet` s (and `minimum` s have passed)."""
    t_start = time.monotonic()
    size, since = peb.mark(), time.monotonic()
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        s = peb.mark()
        if s != size:
            size, since = s, now
        if now - since >= quiet and now - t_start >= minimum:
            return
        if now - t_start > limit:
            note("pebble still busy after %.0f s; going on" % limit)
            return
        deadline.check("pebble to go quiet")


# per certificate or a share: not extrapolated with N (mod_md's value at its largest N is shown)
PER_CERT = ("req_per_cert", "busy_pct", "renew_req_per_cert")


def stored_start(httpd, cafile, deadline, alive):
    """httpd stopped, its store (or static files) in place: `apache2 -t` time, then start ->
    first verified https answer for the last vhost, then memory once its processes settle."""
    res = {}
    t = time.monotonic()
    rc, text = httpd.configtest(timeout=max(30, deadline.left()))
    res["configtest_s"] = time.monotonic() - t
    if rc != 0:
        raise BenchError("apache2 -t failed:\n" + text[-2000:])
    last = httpd.vhosts[-1].name
    t0 = time.monotonic()
    httpd.proc.start()

    def answered():
        alive()
        return benchlib.verified_https_answer(httpd.https_port, last, cafile, timeout=10)
    poll(answered, deadline, "a verified https answer for %s" % last, interval=0.02)
    res["startup_https_s"] = time.monotonic() - t0
    benchlib.settle(httpd.pid, deadline)
    res.update(benchlib.memory(httpd.pid))
    return res


def renewal(httpd, peb, n, want, staged_rx, deadline, alive):
    """mod_acme: `acmectl renew --all`, until every certificate is staged again; the ACME
    requests from the command until then, / N."""
    elog = LogTail(httpd.error_log_file, httpd.log_mark())
    mark = peb.mark()
    wall0, t0 = time.time(), time.monotonic()
    harness.run([ACMECTL, "--store", httpd.store, "renew", "--all"], timeout=120)
    seen, failed = {}, set()
    failed_rx = re.compile(r"ACME00031: certificate for (\S+) ")

    def restaged():
        alive()
        for line in elog.new_lines():
            m = staged_rx.search(line)
            if m and m.group(1) in want and m.group(1) not in seen:
                seen[m.group(1)] = harness.log_time(line) or time.time()
            m = failed_rx.search(line)
            if m and m.group(1) in want:
                failed.add(m.group(1))
        # a failed renewal is retried minutes later: it ends the wait, counted apart
        return len(set(seen) | failed) >= n
    poll(restaged, deadline, "all %d certificates renewed (staged)" % n)
    if failed - set(seen):
        note("mod_acme N=%d: %d renewal(s) failed, e.g. %s (see its error log)"
             % (n, len(failed - set(seen)), sorted(failed - set(seen))[0]))
    return {"renew_s": max(seen.values()) - wall0 if seen else None,
            "renew_req_per_cert": peb.count(HANDLER_RX, mark) / float(max(1, len(seen))),
            "renew_failed": len(failed - set(seen)),
            "renew_wait_s": time.monotonic() - t0}


def one_run(module, n, args, show_commands):
    """One measurement of one module for n vhosts; returns a dict of metrics."""
    deadline = Deadline(args.run_timeout)
    work = harness.make_tempdir("acme-bench-%s-%d-" % (module, n))
    res = {"module": module, "n": n, "load_before": os.getloadavg()[0], "work": work}
    cts = peb = httpd = None
    ok = False
    try:
        http_port, https_port, cts, peb = benchlib.start_ca(work)
        glines, alines = module_lines(module, peb, http_port, https_port, n, args.md_keys,
                                      args.acme_line)
        vhosts = [VHost(PLAIN, ssl=False)] + [VHost(nm) for nm in names(n)]
        httpd = Httpd(os.path.join(work, "httpd"), http_port, https_port, vhosts=vhosts,
                      acme_lines=alines, global_lines=glines, load_acme=(module == "acme"))
        if show_commands:
            print_commands(cts, peb, httpd, module, n)
        want = set(names(n))
        elog = LogTail(httpd.error_log_file)
        staged_rx = (re.compile(r"certificate (\S+) staged: ") if module == "acme" else
                     re.compile(r"AH10059: The Managed Domain (\S+) has been setup"))
        staged = {}        # name -> epoch time of its log line
        restart_sig = []   # mod_acme's own restart requests (ACME00041), epoch times
        gens = [0]         # "resuming normal operations" lines seen

        def scan():
            for line in elog.new_lines():
                m = staged_rx.search(line)
                if m and m.group(1) in want and m.group(1) not in staged:
                    staged[m.group(1)] = harness.log_time(line) or time.time()
                if "ACME00041" in line:
                    restart_sig.append(harness.log_time(line) or time.time())
                if "resuming normal operations" in line:
                    gens[0] += 1

        def alive():
            if not httpd.running():
                raise BenchError("apache2 exited:\n" + httpd.diagnostics())

        # 1. start -> first HTTP answer ------------------------------------------------------
        mark0 = peb.mark()
        wall0, t0 = time.time(), time.monotonic()
        httpd.proc.start()
        cpu = benchlib.CpuSampler(httpd.pid, {"pebble": peb.proc.pid})
        prof = (benchlib.WatchdogProfiler(httpd.pid, args.profile_watchdog,
                                          min_cpu=0.2 if n >= 100 else 0.01)
                if module == "acme" and args.profile_watchdog else None)

        def answered():
            alive()
            try:
                harness.http_request(http_port, "/", PLAIN, timeout=max(1, deadline.left()))
                return True
            except OSError:
                return False
        poll(answered, deadline, "the first HTTP answer", interval=0.02)
        res["first_answer_s"] = time.monotonic() - t0

        # 2./3. start -> all staged; ACME requests ------------------------------------------
        def all_staged():
            alive()
            scan()
            cpu.sample()
            if prof:
                prof.poll()
            return len(staged) >= n
        poll(all_staged, deadline, "all %d certificates staged" % n)
        if prof:
            res["profiled_pid"] = prof.stop()
            if not res["profiled_pid"]:
                note("the watchdog child was not profiled: all were staged before it was "
                     "found (it is looked for every 0.25 s)")
        res["staged_s"] = max(staged.values()) - wall0
        res["acme_requests"] = peb.count(HANDLER_RX, mark0)
        res["req_per_cert"] = res["acme_requests"] / float(n)
        res.update(cpu.result())
        res["busy_pct"] = 100.0 * sum(v for k, v in res.items() if k.startswith("cpu_")) / (
            max(res["staged_s"], 0.001) * (os.cpu_count() or 1))
        t_staged = time.monotonic()
        note("%s N=%d: first answer %.2f s, all staged %.1f s, %d ACME requests" % (
            LABEL[module], n, res["first_answer_s"], res["staged_s"], res["acme_requests"]))
        if args.issuance_only:
            ok = True
            return res

        # 4. all served live (mod_acme by itself; mod_md after our SIGUSR1) ----------------
        remaining = sorted(want)
        if module == "md":
            sig_t = time.monotonic()
            httpd.proc.signal(signal.SIGUSR1)

        def all_live():
            alive()
            scan()
            while remaining and benchlib.served_live(https_port, remaining[0]):
                remaining.pop(0)
            return not remaining
        poll(all_live, deadline, "all %d certificates served" % n)
        t_live = time.monotonic()
        if module == "acme":
            res["live_s"] = t_live - t0
            if restart_sig:
                # the last restart mod_acme asked for before everything was live
                res["activation_s"] = (t_live - t0) - (restart_sig[-1] - wall0)
            res["auto_restarts"] = len(restart_sig)
        else:
            res["activation_s"] = t_live - sig_t
        note("%s N=%d: all served %.1f s after start (%.1f s after all staged)" % (
            LABEL[module], n, t_live - t0, t_live - t_staged))

        # 5. graceful restart with N certificates live, nothing due -------------------------
        wait_quiet(peb, deadline, quiet=3.0, minimum=2.0)
        scan()
        before = gens[0]
        mark1 = peb.mark()
        t1 = time.monotonic()
        httpd.proc.signal(signal.SIGUSR1)
        last = names(n)[-1]

        def serving_again():
            alive()
            scan()
            return gens[0] > before and benchlib.served_live(https_port, last)
        poll(serving_again, deadline, "serving after the graceful restart", interval=0.05,
             limit=300)
        res["restart_s"] = time.monotonic() - t1
        wait_quiet(peb, deadline, quiet=3.0, minimum=args.restart_window)
        res["restart_requests"] = peb.count(HANDLER_RX, mark1)
        scan()
        if module == "acme" and len(restart_sig) > res.get("auto_restarts", 0):
            note("mod_acme restarted by itself again after the measured restart")
        res["load_after"] = os.getloadavg()[0]
        note("%s N=%d: graceful restart %.2f s, %d ACME requests" % (
            LABEL[module], n, res["restart_s"], res["restart_requests"]))

        # 6. N certificates in the store: configtest, start -> first verified https, memory ---
        httpd.stop()
        res.update(stored_start(httpd, peb.roots_file(), deadline, alive))
        note("%s N=%d: with the store: configtest %.2f s, first verified https %.2f s, "
             "parent RSS %.1f MB (anon %.1f), all processes %.1f MB %s" % (
                 LABEL[module], n, res["configtest_s"], res["startup_https_s"],
                 res["parent_rss_mb"], res["parent_anon_mb"], res["total_mb"],
                 res["total_kind"]))

        # 7. renewal (mod_acme: acmectl renew --all) -------------------------------------------
        if module == "acme" and n <= args.renew_max_n:
            res.update(renewal(httpd, peb, n, want, staged_rx, deadline, alive))
            note("mod_acme N=%d: renewal %.1f s, %.1f ACME requests per renewed certificate, "
                 "%d failed" % (n, res["renew_s"] or 0, res["renew_req_per_cert"],
                                res["renew_failed"]))
        ok = True
        return res
    except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others go on
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        return res
    finally:
        benchlib.stop_servers((httpd, peb, cts), work, ok, args.keep)


def static_run(n, args, show_commands):
    """The floor of start-up, memory, configtest and restart: the same vhosts, no ACME module,
    each with its own static SSLCertificateFile/SSLCertificateKeyFile."""
    deadline = Deadline(args.run_timeout)
    work = harness.make_tempdir("acme-bench-static-%d-" % n)
    res = {"module": "static", "n": n, "load_before": os.getloadavg()[0], "work": work}
    httpd = None
    ok = False
    try:
        ca_file, certdir = benchlib.static_certs(n)
        http_port, https_port = harness.free_port(), harness.free_port()
        vhosts = [VHost(PLAIN, ssl=False)] + [
            VHost(nm, lines=['SSLCertificateFile "%s/%s.crt"' % (certdir, nm),
                             'SSLCertificateKeyFile "%s/%s.key"' % (certdir, nm)])
            for nm in names(n)]
        httpd = Httpd(os.path.join(work, "httpd"), http_port, https_port, vhosts=vhosts,
                      load_acme=False)
        if show_commands:
            out("  commands (static, N=%d): %s" % (n, " ".join(shlex.quote(a)
                                                               for a in httpd.proc.argv)))
            out("      vhosts: %d x <VirtualHost *:%d> ServerName v00001.%s ... SSLEngine on, "
                "SSLCertificateFile/SSLCertificateKeyFile %s/NAME.{crt,key} (P-256 leaf + "
                "RSA-2048 intermediate, as pebble issues)"
                % (n, https_port, DOMAIN, certdir))

        def alive():
            if not httpd.running():
                raise BenchError("apache2 exited:\n" + httpd.diagnostics())
        res.update(stored_start(httpd, ca_file, deadline, alive))
        last = names(n)[-1]
        before = httpd.generations()
        t1 = time.monotonic()
        httpd.proc.signal(signal.SIGUSR1)

        def serving_again():
            alive()
            return (httpd.generations() > before
                    and benchlib.verified_https_answer(https_port, last, ca_file))
        poll(serving_again, deadline, "serving after the graceful restart", interval=0.05,
             limit=300)
        res["restart_s"] = time.monotonic() - t1
        res["load_after"] = os.getloadavg()[0]
        note("static N=%d: configtest %.2f s, first verified https %.2f s, parent RSS %.1f MB "
             "(anon %.1f), all processes %.1f MB %s, graceful restart %.2f s" % (
                 n, res["configtest_s"], res["startup_https_s"], res["parent_rss_mb"],
                 res["parent_anon_mb"], res["total_mb"], res["total_kind"], res["restart_s"]))
        ok = True
        return res
    except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others go on
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        return res
    finally:
        benchlib.stop_servers((httpd,), work, ok, args.keep)


def floor_run(n, args, show_commands):
    res = pebble_floor.one_run(n, args.floor_threads, args.run_timeout, keep=args.keep)
    if show_commands and "command" in res:
        out("  commands (client, N=%d): %s; bench/pebble_floor.py's client, %d threads"
            % (n, res["command"], args.floor_threads))
    res["load_before"] = res["load_after"] = os.getloadavg()[0]
    return res


def run_one(module, n, args, show_commands):
    if module == "static":
        return static_run(n, args, show_commands)
    if module == "floor":
        return floor_run(n, args, show_commands)
    return one_run(module, n, args, show_commands)


# ---------------------------------------------------------------------------------------------
# report

def medians(results, module, key):
    """{n: (median, cell text)} of one module's metric."""
    by = {}
    for r in results:
        if r["module"] == module and "error" not in r and r.get(key) is not None:
            by.setdefault(r["n"], []).append(r[key])
    return {n: benchlib.summary(v, "") for n, v in by.items()}


def table(results, ns, modules, md_max_n, by_measure=False):
    rows = ["| N | measure | mod_acme median [min-max] | mod_md median [min-max] | "
            "floor: static mod_ssl or minimal client | acme/md | acme/floor |",
            "|---|---|---|---|---|---|---|"]
    pairs = ([(n, m) for m in METRICS for n in ns] if by_measure else
             [(n, m) for n in ns for m in METRICS])
    for n, (key, label, unit, mods) in pairs:
        meds, cells = {}, {}
        for m in MODULES:
            vals = [r[key] for r in results
                    if r["module"] == m and r["n"] == n and "error" not in r
                    and r.get(key) is not None]
            if m not in mods:
                cells[m] = "n/a"
                continue
            if m not in modules:
                cells[m] = "(not run)"
                continue
            meds[m], cells[m] = benchlib.summary(vals, unit)
        md_note = ""
        if "md" in modules and "md" in mods and n > md_max_n and meds.get("md") is None:
            pts = sorted((k, v[0]) for k, v in medians(results, "md", key).items())
            if key in PER_CERT and pts:
                ex, how = pts[-1][1], "as at N=%d" % pts[-1][0]
            else:
                ex, how = benchlib.extrapolate(pts, n), "extrapolated"
            if ex is not None and ex >= 0:
                meds["md"] = ex
                cells["md"] = "~%s (%s)" % (benchlib.fmt(ex, unit), how)
                md_note = "~"
            else:
                cells["md"] = "(skipped)"
        fl = "floor" if "floor" in mods else "static"
        rows.append("| %d | %s%s | %s | %s | %s | %s | %s |" % (
            n, label, " (%s)" % unit if unit else "", cells["acme"], cells["md"],
            cells[fl] if fl in mods else "n/a" if "static" not in mods else cells["static"],
            (md_note + benchlib.ratio(meds.get("acme"), meds.get("md"))).replace("~-", "-"),
            benchlib.ratio(meds.get("acme"), meds.get(fl))))
    return "\n".join(rows)



def runs_for(module, n, args):
    if module == "md" and n > args.md_max_n:
        return 0
    if n >= args.single_run_from or (module == "md" and n >= args.md_single_run_from):
        return 1
    return args.runs


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1,20,100", help="vhost counts, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="runs per module and N")
    ap.add_argument("--modules", default="acme,md,static,floor",
                    help="any of acme,md,static,floor (default all)")
    ap.add_argument("--single-run-from", type=int, default=10000,
                    help="one run only for N at least this (default 10000)")
    ap.add_argument("--md-single-run-from", type=int, default=1000,
                    help="one mod_md run only for N at least this (default 1000)")
    ap.add_argument("--md-max-n", type=int, default=1000,
                    help="no mod_md run above this N: its figures are extrapolated linearly "
                         "from the two largest N measured (default 1000)")
    ap.add_argument("--renew-max-n", type=int, default=1000,
                    help="measure mod_acme's renewal up to this N (default 1000)")
    ap.add_argument("--floor-threads", type=int, default=64,
                    help="orders in flight of the minimal client (default 64)")
    ap.add_argument("--run-timeout", type=float, default=0,
                    help="seconds per run and module (default 180 + 1.5 s per vhost, max 3600)")
    ap.add_argument("--restart-window", type=float, default=10.0,
                    help="seconds at least to count ACME requests after a restart (default 10)")
    ap.add_argument("--md-keys", default=None,
                    help="MDPrivateKeys for mod_md (default: mod_md's own, RSA 2048; "
                         "mod_acme always uses P-256), e.g. secp256r1")
    ap.add_argument("--acme-line", action="append", default=[],
                    help="a further config line for mod_acme (repeatable), e.g. "
                         "'ACMEMaxParallel 8'")
    ap.add_argument("--json", default=None, help="append every run's result to this file")
    ap.add_argument("--extrapolate-from", default=None,
                    help="a --json file of an earlier run at smaller N: mod_md's figures there "
                         "are used for its extrapolation above --md-max-n")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--issuance-only", action="store_true",
                    help="stop each run once all N are staged (start, first answer, staged, "
                         "requests, CPU during issuance only)")
    ap.add_argument("--profile-watchdog", default=None, metavar="FILE",
                    help="mod_acme: `perf record` its watchdog child from its start until all "
                         "N are staged, into FILE (with --runs > 1 the last run's)")
    ap.add_argument("--report", nargs="+", metavar="JSON",
                    help="run nothing: print the table (grouped by measure) of earlier --json "
                         "files, every N and module in them")
    args = ap.parse_args(argv[1:])
    ns = [int(x) for x in args.n.split(",") if x.strip()]
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    if any(m not in MODULES for m in modules) or not ns or args.runs < 1:
        ap.error("bad --modules/--n/--runs")
    if args.report:
        results = []
        for path in args.report:
            with open(path) as f:
                results += [json.loads(line) for line in f if line.strip()]
        ns = sorted({r["n"] for r in results})
        failed = [r for r in results if "error" in r]
        out("# %d run(s) from %s; failed (left out): %d" % (len(results), " ".join(args.report),
                                                           len(failed)))
        out(table(results, ns, [m for m in MODULES if any(r["module"] == m for r in results)],
                  max([r["n"] for r in results if r["module"] == "md"] or [0]),
                  by_measure=True))
        return 0
    if os.geteuid() != 0:
        print("must run as root (httpd switches to User %s)" % harness.HTTPD_USER,
              file=sys.stderr)
        return 2
    if "acme" in modules and not (os.path.isfile(harness.module_path())
                                  and os.access(ACMECTL, os.X_OK)):
        print("module %s or %s missing: make -C build" % (harness.module_path(), ACMECTL),
              file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    out("# mod_acme vs mod_md vs floors benchmark, %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    out("# %s" % benchlib.machine_facts())
    out("# command: %s" % " ".join(shlex.quote(a) for a in argv))
    out("# mod_acme: %s" % harness.module_path())
    out("# memory: all httpd processes summed as %s" % (
        "PSS (/proc/PID/smaps_rollup)" if os.path.exists("/proc/self/smaps_rollup")
        else "RSS (no smaps_rollup)"))
    out("# load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    results = []
    t_all = time.monotonic()
    try:
        for n in ns:
            timeout = args.run_timeout or min(3600, 180 + 1.5 * n)
            args_n = argparse.Namespace(**vars(args))
            args_n.run_timeout = timeout
            for i in range(max(runs_for(m, n, args) for m in modules)):
                k = i % len(modules)
                order = modules[k:] + modules[:k]
                for m in order:
                    if i >= runs_for(m, n, args):
                        continue
                    out("== N=%d run %d/%d %s (limit %d s)" % (n, i + 1, runs_for(m, n, args),
                                                               LABEL[m], timeout))
                    r = run_one(m, n, args_n, show_commands=(i == 0))
                    r["run"] = i + 1
                    results.append(r)
                    out("   " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                            for k, v in r.items() if k != "work"}))
                    if args.json:
                        with open(args.json, "a") as f:
                            f.write(json.dumps(r) + "\n")
    except KeyboardInterrupt:
        out("interrupted: partial results")
    loads = [r.get(k) for r in results for k in ("load_before", "load_after")
             if r.get(k) is not None]
    out("")
    out("# %d run(s) in %.0f s; failed: %d; 1-min load average during the runs: %.2f-%.2f"
        % (len(results), time.monotonic() - t_all, sum(1 for r in results if "error" in r),
           min(loads) if loads else 0, max(loads) if loads else 0))
    for r in results:
        if "error" in r:
            out("# FAILED %s N=%d run %d: %s" % (LABEL[r["module"]], r["n"], r["run"],
                                                 r["error"][:2000]))
    if ("md" in modules or args.extrapolate_from) and any(n > args.md_max_n for n in ns):
        out("# mod_md not run above N=%d: its cells there are extrapolated linearly from its "
            "two largest measured N" % args.md_max_n)
    earlier = []
    if args.extrapolate_from:
        with open(args.extrapolate_from) as f:
            earlier = [r for r in map(json.loads, f) if r["module"] == "md" and r["n"] not in ns]
        modules = modules if "md" in modules else modules + ["md"]
    out("")
    out(table(results + earlier, ns, modules, args.md_max_n))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
