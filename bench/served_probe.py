#!/usr/bin/python3
"""Start to served, step by step, with a parallel probe (mod_acme only).

bench/startup.py decides "served" with one handshake per name, one after another, and
parses each leaf with an `openssl x509` process: at N=1,000 that probe alone takes tens
of seconds. This tool starts the same setup (pebble, an empty store, N https vhosts; the
helpers of bench/startup.py) and splits start -> all served into the steps in the error
log, probing the names from several threads and reading the leaf's issuer and subject
from its DER in-process:

  staged_s      start -> the N-th `certificate X staged:` line
  signal_s      start -> ACME00041 (configtest passed, sets activated, SIGUSR1 sent)
  resumed_s     start -> the new generation's `resuming normal operations`
  served_s      start -> every name's handshake returns a CA-issued leaf

and the differences between them (quiet wait + configtest + activation; restart;
probe). Usage, as root:

    sudo /usr/bin/python3 bench/served_probe.py --n 1 --runs 3
    sudo /usr/bin/python3 bench/served_probe.py --n 1000 --runs 1 --keep

Servers listen on 127.0.0.1 high ports, are stopped by their PID whatever the outcome,
and every wait is bounded (--run-timeout).
"""

import argparse
import concurrent.futures
import os
import re
import signal
import socket
import ssl
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import benchlib  # noqa: E402
import harness  # noqa: E402
import startup  # noqa: E402
from harness import Httpd, VHost  # noqa: E402

STEPS = ("staged_s", "signal_s", "resumed_s", "served_s")


# ---- a minimal DER reader: the issuer and subject of a certificate -------------------------

def _tlv(buf, i):
    """(tag, start of content, end of content) of the DER element at buf[i]."""
    tag, ln = buf[i], buf[i + 1]
    i += 2
    if ln & 0x80:
        k = ln & 0x7F
        ln = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + ln


def issuer_subject(der):
    """The raw issuer and subject Names of an X.509 certificate (bytes, bytes)."""
    _, c, _ = _tlv(der, 0)            # Certificate
    _, i, _ = _tlv(der, c)            # tbsCertificate
    tag, _, e = _tlv(der, i)
    if tag == 0xA0:                   # [0] version
        i = e
        tag, _, e = _tlv(der, i)
    i = e                             # serialNumber
    i = _tlv(der, i)[2]               # signature AlgorithmIdentifier
    _, _, e = _tlv(der, i)
    issuer = der[i:e]
    i = _tlv(der, e)[2]               # validity
    _, _, e2 = _tlv(der, i)
    return issuer, der[i:e2]


def served_by_ca(port, name, timeout=5.0):
    """True when the handshake for SNI name returns a leaf that is neither self-signed nor
    mod_acme's fallback (whose subject CN is harness.FALLBACK_CN)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                der = s.getpeercert(binary_form=True)
    except OSError:
        return False
    issuer, subject = issuer_subject(der)
    return issuer != subject and harness.FALLBACK_CN.encode() not in subject


def probe_all(port, names, deadline, threads):
    """Until every name is served by the CA (each name probed again until it is);
    returns the monotonic time the last one was."""
    left = list(names)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        while left:
            deadline.check("all %d names served" % len(names))
            ok = list(pool.map(lambda nm: served_by_ca(port, nm), left))
            left = [nm for nm, good in zip(left, ok) if not good]
            if left:
                time.sleep(0.02)
    return time.monotonic()


# ---- one run ---------------------------------------------------------------------------------

def one_run(n, args):
    deadline = startup.Deadline(args.run_timeout)
    work = harness.make_tempdir("acme-served-%d-" % n)
    res = {"n": n, "load_before": os.getloadavg()[0], "work": work}
    cts = peb = httpd = None
    ok = False
    try:
        http_port, https_port, cts, peb = benchlib.start_ca(work)
        glines, alines = startup.module_lines("acme", peb, http_port, https_port, n)
        vhosts = [VHost(startup.PLAIN, ssl=False)] + [VHost(nm) for nm in startup.names(n)]
        httpd = Httpd(os.path.join(work, "httpd"), http_port, https_port, vhosts=vhosts,
                      acme_lines=alines + args.extra, global_lines=glines)
        want = set(startup.names(n))
        elog = startup.LogTail(httpd.error_log_file)
        staged, signals, resumed = {}, [], []
        staged_rx = re.compile(r"certificate (\S+) staged: ")

        def scan():
            for line in elog.new_lines():
                t = harness.log_time(line) or time.time()
                m = staged_rx.search(line)
                if m and m.group(1) in want and m.group(1) not in staged:
                    staged[m.group(1)] = t
                if "ACME00041" in line:
                    signals.append(t)
                if "resuming normal operations" in line:
                    resumed.append(t)
            if not httpd.running():
                raise startup.BenchError("apache2 exited:\n" + httpd.diagnostics())

        wall0, t0 = time.time(), time.monotonic()
        httpd.proc.start()

        def all_staged():
            scan()
            return len(staged) >= n
        startup.poll(all_staged, deadline, "all %d staged" % n, interval=0.05)
        t_served = probe_all(https_port, sorted(want), deadline, args.threads)
        res["served_s"] = t_served - t0
        # the log lines of the restart that made the last name live
        startup.poll(lambda: (scan(), signals and len(resumed) >= 2)[1], deadline,
                     "the restart's log lines", interval=0.05, limit=10)
        res["staged_s"] = max(staged.values()) - wall0
        res["signal_s"] = signals[-1] - wall0
        after = [t for t in resumed if t >= signals[-1]]
        res["resumed_s"] = (after[0] if after else resumed[-1]) - wall0
        res["restarts"] = len(signals)
        res["load_after"] = os.getloadavg()[0]
        startup.note("N=%d: staged %.2f, signal %.2f, resumed %.2f, served %.2f s (%d restarts)"
                     % (n, res["staged_s"], res["signal_s"], res["resumed_s"], res["served_s"],
                        res["restarts"]))
        ok = True
        return res
    except Exception as exc:  # noqa: BLE001
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        startup.note("N=%d failed: %s" % (n, res["error"]))
        return res
    finally:
        benchlib.stop_servers((httpd, peb, cts), work, ok, args.keep)


def report(results, n):
    good = [r for r in results if "error" not in r]
    print("N=%d: %d of %d runs succeeded" % (n, len(good), len(results)))
    if not good:
        return
    med = {k: statistics.median(r[k] for r in good) for k in STEPS}
    for k in STEPS:
        vals = [r[k] for r in good]
        print("  %-10s median %6.2f s [%.2f-%.2f]" % (k, med[k], min(vals), max(vals)))
    print("  last staged -> signal (quiet wait, configtest, activation): %.2f s"
          % (med["signal_s"] - med["staged_s"]))
    print("  signal -> resuming (graceful restart, mod_ssl loading):     %.2f s"
          % (med["resumed_s"] - med["signal_s"]))
    print("  resuming -> all served (new children, probe):               %.2f s"
          % (med["served_s"] - med["resumed_s"]))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="1", help="vhost counts, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=16, help="probe threads (default 16)")
    ap.add_argument("--run-timeout", type=float, default=0,
                    help="seconds per run (default 120 + 0.5 s per vhost)")
    ap.add_argument("--extra", action="append", default=[],
                    help="one more mod_acme configuration line (repeatable)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)  # the servers are stopped in one_run's finally
    if os.geteuid() != 0:
        print("run as root (httpd switches to its User)", file=sys.stderr)
        return 2
    for n in [int(x) for x in args.n.split(",")]:
        if not args.run_timeout:
            args.run_timeout = 120 + 0.5 * n
        report([one_run(n, args) for _ in range(args.runs)], n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
