#!/usr/bin/python3
"""Benchmark: mod_acme against Debian's mod_md, side by side in the same run.

For N https vhosts with an empty store, a fresh pebble (PEBBLE_VA_NOSLEEP=1,
PEBBLE_WFE_NONCEREJECT=0) and its DNS (pebble-challtestsrv), each run measures:

  first_answer_s    process start -> first HTTP answer (GET / on the plain port)
  staged_s          process start -> all N certificates obtained (staged; from the error log)
  req_per_cert      ACME requests (pebble's "-> calling handler()" lines) until then, / N
  live_s            mod_acme only: process start -> all N served (its own graceful restart)
  activation_s      restart signal -> all N served (mod_acme: its own SIGUSR1, ACME00041;
                    mod_md: the SIGUSR1 this tool sends once all are staged)
  restart_s         N certificates live, nothing due: SIGUSR1 -> new generation serving
  restart_requests  ACME requests caused by that restart

Runs are interleaved (mod_acme and mod_md alternate who goes first); the table shows
medians with min/max and the ratio mod_acme/mod_md. Not a test: nothing here asserts speed.

    sudo /usr/bin/python3 bench/startup.py                       # N=1,20,100, 3 runs each
    sudo /usr/bin/python3 bench/startup.py --n 1,5 --runs 1      # smoke test
    sudo /usr/bin/python3 bench/startup.py --modules acme --n 5  # one module only

Every server listens on 127.0.0.1 high ports, is stopped by its PID whatever the outcome,
and every wait is bounded (--run-timeout per run and module).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import harness  # noqa: E402
from harness import ChallTestSrv, Httpd, Pebble, VHost  # noqa: E402

DOMAIN = "bench.mod-acme.test"
PLAIN = "plain." + DOMAIN
HANDLER_RX = r"-> calling handler\(\)"
MODULES = ("acme", "md")
LABEL = {"acme": "mod_acme", "md": "mod_md"}

METRICS = [
    # key, label, unit, modules
    ("first_answer_s", "start -> first HTTP answer", "s", MODULES),
    ("staged_s", "start -> all N certificates obtained (staged)", "s", MODULES),
    ("req_per_cert", "ACME requests per certificate", "", MODULES),
    ("live_s", "start -> all N served live, no operator action", "s", ("acme",)),
    ("activation_s", "activation restart: signal -> all N served", "s", MODULES),
    ("restart_s", "graceful restart, N live, nothing due: SIGUSR1 -> serving", "s", MODULES),
    ("restart_requests", "ACME requests at that restart", "", MODULES),
]


class BenchError(Exception):
    pass


def out(msg=""):
    print(msg, flush=True)


def note(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def names(n):
    return ["v%04d.%s" % (i, DOMAIN) for i in range(1, n + 1)]


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if time.monotonic() > self.end:
            raise BenchError("run time limit (%d s) reached while waiting for %s"
                             % (self.seconds, what))


def poll(predicate, deadline, what, interval=0.25, limit=None):
    """predicate() until true (returned); bounded by the run's deadline and an optional limit."""
    end = deadline.end if limit is None else min(deadline.end, time.monotonic() + limit)
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > end:
            raise BenchError("timed out waiting for %s" % what)
        time.sleep(interval)


class LogTail:
    """Reads an error log incrementally (only what was appended since the last call)."""

    def __init__(self, path):
        self.path, self.pos, self.buf = path, 0, ""

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        text = self.buf + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self.buf = lines.pop()
        return lines


def is_live(cert):
    return not (cert.is_fallback or cert.self_signed)


def served_live(httpd, name):
    try:
        return is_live(httpd.cert(name))
    except (OSError, harness.HarnessError, AttributeError):
        return False


def module_lines(module, peb, http_port, https_port, n, md_keys=None):
    if module == "acme":
        # the same challenge type for both modules; info level like mod_md (the harness
        # sets acme:debug)
        return (["LogLevel acme:info"],
                harness.acme_lines(peb, peb.ca_file, extra=["ACMEChallenges http-01"]))
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
        "%d x <VirtualHost *:%d> ServerName v0001.%s ... SSLEngine on"
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


def one_run(module, n, args, show_commands):
    """One measurement of one module for n vhosts; returns a dict of metrics."""
    deadline = Deadline(args.run_timeout)
    work = harness.make_tempdir("acme-bench-%s-%d-" % (module, n))
    res = {"module": module, "n": n, "load_before": os.getloadavg()[0], "work": work}
    cts = peb = httpd = None
    ok = False
    try:
        http_port, https_port = harness.free_port(), harness.free_port()
        cts = ChallTestSrv(os.path.join(work, "challtestsrv")).start()
        peb = Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port, https_port).start()
        glines, alines = module_lines(module, peb, http_port, https_port, n, args.md_keys)
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
            return len(staged) >= n
        poll(all_staged, deadline, "all %d certificates staged" % n)
        res["staged_s"] = max(staged.values()) - wall0
        res["acme_requests"] = peb.count(HANDLER_RX, mark0)
        res["req_per_cert"] = res["acme_requests"] / float(n)
        t_staged = time.monotonic()
        note("%s N=%d: first answer %.2f s, all staged %.1f s, %d ACME requests" % (
            LABEL[module], n, res["first_answer_s"], res["staged_s"], res["acme_requests"]))

        # 4. all served live (mod_acme by itself; mod_md after our SIGUSR1) ----------------
        remaining = sorted(want)
        if module == "md":
            sig_t = time.monotonic()
            httpd.proc.signal(signal.SIGUSR1)

        def all_live():
            alive()
            scan()
            while remaining and served_live(httpd, remaining[0]):
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
            return gens[0] > before and served_live(httpd, last)
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
        ok = True
        return res
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return res
    finally:
        for s in (httpd, peb, cts):
            if s is not None:
                try:
                    s.stop()
                except Exception as exc:  # noqa: BLE001
                    note("stopping %r: %r" % (s, exc))
        if httpd is not None and httpd.processes_left():
            note("processes of httpd %d still alive after stop" % httpd.pid)
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            note("kept %s" % work)


# ---------------------------------------------------------------------------------------------
# report

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.2f" % v if v < 10 else "%.1f" % v
    return "%.1f" % v if v != int(v) else "%d" % v


def summary(values, unit):
    if not values:
        return None, "-"
    med = statistics.median(values)
    if len(values) == 1:
        return med, fmt(med, unit)
    return med, "%s [%s-%s]" % (fmt(med, unit), fmt(min(values), unit), fmt(max(values), unit))


def table(results, ns, modules):
    rows = ["| N | measure | mod_acme median [min-max] | mod_md median [min-max] | "
            "ratio acme/md |", "|---|---|---|---|---|"]
    for n in ns:
        for key, label, unit, mods in METRICS:
            cells, meds = [], {}
            for m in MODULES:
                vals = [r[key] for r in results
                        if r["module"] == m and r["n"] == n and "error" not in r
                        and r.get(key) is not None]
                if m not in modules:
                    cells.append("(not run)")
                    continue
                if m not in mods:
                    cells.append("n/a")
                    continue
                meds[m], cell = summary(vals, unit)
                cells.append(cell)
            ratio = "-"
            if meds.get("acme") is not None and meds.get("md"):
                ratio = "%.2f" % (meds["acme"] / meds["md"])
            elif meds.get("acme") is not None and meds.get("md") == 0:
                ratio = "md = 0"
            rows.append("| %d | %s%s | %s | %s | %s |" % (
                n, label, " (%s)" % unit if unit else "", cells[0], cells[1], ratio))
    return "\n".join(rows)


def machine_facts():
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        mem = "%.1f GiB" % (kb / 1048576.0)
    except (OSError, AttributeError):
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    vers = []
    for cmd in ([harness.APACHE2, "-v"], ["dpkg-query", "-W", "apache2", "pebble"]):
        try:
            vers.append(harness.run(cmd, check=False, timeout=20).stdout.strip().replace(
                "\n", "; "))
        except Exception:  # noqa: BLE001
            pass
    return "nproc %d, %s, memory %s; %s" % (os.cpu_count() or 0, cpu, mem, "; ".join(vers))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1,20,100", help="vhost counts, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="runs per module and N")
    ap.add_argument("--modules", default="acme,md", help="acme,md (default both)")
    ap.add_argument("--run-timeout", type=float, default=0,
                    help="seconds per run and module (default 120 + 8 s per vhost, max 900)")
    ap.add_argument("--restart-window", type=float, default=10.0,
                    help="seconds at least to count ACME requests after a restart (default 10)")
    ap.add_argument("--md-keys", default=None,
                    help="MDPrivateKeys for mod_md (default: mod_md's own, RSA 2048; "
                         "mod_acme always uses P-256), e.g. secp256r1")
    ap.add_argument("--json", default=None, help="append every run's result to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args(argv[1:])
    ns = [int(x) for x in args.n.split(",") if x.strip()]
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    if any(m not in MODULES for m in modules) or not ns or args.runs < 1:
        ap.error("bad --modules/--n/--runs")
    if os.geteuid() != 0:
        print("must run as root (httpd switches to User %s)" % harness.HTTPD_USER,
              file=sys.stderr)
        return 2
    if "acme" in modules and not os.path.isfile(harness.module_path()):
        print("module %s missing: make -C build" % harness.module_path(), file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    out("# mod_acme vs mod_md start-up benchmark, %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    out("# %s" % machine_facts())
    out("# command: %s" % " ".join(shlex.quote(a) for a in argv))
    out("# mod_acme: %s" % harness.module_path())
    out("# load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    results = []
    t_all = time.monotonic()
    try:
        for n in ns:
            timeout = args.run_timeout or min(900, 120 + 8 * n)
            args_n = argparse.Namespace(**vars(args))
            args_n.run_timeout = timeout
            for i in range(args.runs):
                order = modules if i % 2 == 0 else list(reversed(modules))
                for m in order:
                    out("== N=%d run %d/%d %s (limit %d s)" % (n, i + 1, args.runs, LABEL[m],
                                                               timeout))
                    r = one_run(m, n, args_n, show_commands=(i == 0))
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
    out("")
    out(table(results, ns, modules))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
