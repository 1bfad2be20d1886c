"""Helpers shared by the bench/ scripts: bounded waits, log tails, TLS probes, per-process CPU
and memory from /proc, the cached static certificates of the floor, machine facts, tables.

Standard library plus Debian's python3-cryptography. Not a test: nothing here judges speed.
"""

import datetime
import os
import re
import shutil
import socket
import ssl
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import harness  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

DOMAIN = "bench.mod-acme.test"
PLAIN = "plain." + DOMAIN
STATIC_CACHE = os.environ.get("ACME_BENCH_CACHE", "/var/cache/mod_acme-bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
HANDLER_RX = r"-> calling handler\(\)"   # pebble logs one per ACME request


class BenchError(Exception):
    pass


def out(msg=""):
    print(msg, flush=True)


def note(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def names(n):
    return ["v%05d.%s" % (i, DOMAIN) for i in range(1, n + 1)]


def start_ca(work):
    """Two free loopback ports for the server under test (http, https), then
    pebble-challtestsrv and a fresh pebble in work/ validating against those ports
    (the harness's configuration). Returns (http_port, https_port, challtestsrv, pebble);
    when pebble does not start, challtestsrv is stopped before the error goes on."""
    http_port, https_port = harness.free_port(), harness.free_port()
    cts = harness.ChallTestSrv(os.path.join(work, "challtestsrv")).start()
    try:
        peb = harness.Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port,
                             https_port).start()
    except BaseException:
        cts.stop()
        raise
    return http_port, https_port, cts, peb


def stop_servers(servers, work, ok, keep):
    """Stop every server (by its PID, in this order: httpd first; None entries skipped); then
    remove the work directory after a good run unless keep, else say it is kept (work None:
    the caller's, left alone)."""
    for srv in servers:
        if srv is not None:
            try:
                srv.stop()
            except Exception as exc:  # noqa: BLE001
                note("stopping %r: %r" % (srv, exc))
    first = servers[0] if servers else None
    if isinstance(first, harness.Httpd) and first.processes_left():
        note("processes of httpd %d still alive after stop" % first.pid)
    if work is None:
        return
    if ok and not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        note("kept %s" % work)


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
    """Reads a log incrementally (only what was appended since the last call)."""

    def __init__(self, path, start=0):
        self.path, self.pos, self.buf = path, start, ""

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


# ---------------------------------------------------------------------------------------------
# TLS probes (no openssl subprocess per handshake: 10,000 of them must stay cheap)

def _leaf(port, sni, timeout=5):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True))


def served_live(port, sni):
    """True when the handshake for sni returns a CA-issued leaf: neither mod_acme's fallback
    nor self-signed (mod_md's fallback)."""
    try:
        c = _leaf(port, sni)
    except (OSError, ValueError):
        return False
    if c.subject == c.issuer:
        return False
    cns = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return not (cns and cns[0].value == harness.FALLBACK_CN)


def verified_https_answer(port, sni, cafile, timeout=5):
    """GET / over TLS with SNI and Host sni, the chain verified against cafile and the name
    checked. True on any HTTP answer over a verified connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    ctx.check_hostname = True
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                           "User-Agent: mod_acme-bench\r\n\r\n" % sni).encode())
                return s.recv(12).startswith(b"HTTP/1.1 ")
    except (OSError, ssl.SSLError):
        return False


# ---------------------------------------------------------------------------------------------
# processes: CPU and memory from /proc

def group_pids(pgid):
    """PIDs of every process in process group pgid (httpd's parent runs as its own group)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if int(fields[2]) == pgid:
            pids.append(int(d))
    return sorted(pids)


def cpu_seconds(pid):
    """utime+stime of pid in seconds, or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^%s:\s+(\d+) kB" % key, f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            m = re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def memory(parent):
    """Memory of an httpd (parent pid = its process group) in MB: parent RSS and RssAnon, and
    the sum over all its processes, PSS when smaps_rollup exists (else RSS)."""
    pids = group_pids(parent)
    use_pss = os.path.exists("/proc/%d/smaps_rollup" % parent)
    total = 0
    for p in pids:
        v = pss_kb(p) if use_pss else status_kb(p, "VmRSS")
        total += v or 0
    return {"parent_rss_mb": (status_kb(parent, "VmRSS") or 0) / 1024.0,
            "parent_anon_mb": (status_kb(parent, "RssAnon") or 0) / 1024.0,
            "total_mb": total / 1024.0, "total_kind": "PSS" if use_pss else "RSS",
            "processes": len(pids)}


def settle(parent, deadline, quiet=1.0, minimum=1.0, limit=10.0):
    """Until the set of httpd's processes has not changed for `quiet` s (bounded)."""
    t0 = time.monotonic()
    last, since = group_pids(parent), t0
    while time.monotonic() - t0 < limit:
        time.sleep(0.2)
        now = group_pids(parent)
        if now != last:
            last, since = now, time.monotonic()
        if time.monotonic() - since >= quiet and time.monotonic() - t0 >= minimum:
            return
        deadline.check("httpd's processes to settle")


class WatchdogProfiler:
    """`perf record` of mod_acme's watchdog child from the moment it is found until stop():
    the child of httpd's process group that has libcurl mapped (only the child that talks to
    the CA loads it) and has used the most CPU, once one has used at least min_cpu s (a
    child of an earlier generation may have it mapped too, and has used little)."""

    def __init__(self, parent_pid, out_file, call_graph="dwarf,16384", min_cpu=0.2):
        self.parent_pid, self.out_file, self.call_graph = parent_pid, out_file, call_graph
        self.min_cpu = min_cpu
        self.proc, self.pid = None, None

    def _watchdog_pid(self):
        best, best_cpu = None, self.min_cpu
        for pid in group_pids(self.parent_pid):
            if pid == self.parent_pid:
                continue
            try:
                with open("/proc/%d/maps" % pid) as f:
                    if "libcurl" not in f.read():
                        continue
            except OSError:
                continue
            cpu = cpu_seconds(pid) or 0.0
            if cpu >= best_cpu:
                best, best_cpu = pid, cpu
        return best

    def poll(self):
        """Start perf once the watchdog child exists; cheap to call often."""
        if self.proc is None:
            self.pid = self._watchdog_pid()
            if self.pid:
                import subprocess
                self.proc = subprocess.Popen(
                    ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999",
                     "--call-graph", self.call_graph, "-p", str(self.pid), "-o", self.out_file],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self.proc is not None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            import signal
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except Exception:  # noqa: BLE001 - bounded: kill the profiler we started
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.pid


class CpuSampler:
    """CPU seconds of httpd's processes and of other named processes, sampled on demand: the
    last value seen per PID is kept, so a process that exits between samples loses at most its
    last interval. httpd's children are told apart from the parent; the busiest child is
    reported on its own (mod_acme: the watchdog child, which does the ACME work)."""

    def __init__(self, httpd_pid, others):
        self.httpd_pid, self.others = httpd_pid, dict(others)   # name -> pid
        self.base, self.last = {}, {}
        for pid in [httpd_pid] + list(self.others.values()):
            self.base[pid] = cpu_seconds(pid) or 0.0

    def sample(self):
        for pid in group_pids(self.httpd_pid) + list(self.others.values()):
            v = cpu_seconds(pid)
            if v is not None:
                self.last[pid] = v

    def result(self):
        self.sample()
        used = {pid: v - self.base.get(pid, 0.0) for pid, v in self.last.items()}
        res = {"cpu_%s_s" % name: used.get(pid, 0.0) for name, pid in self.others.items()}
        res["cpu_httpd_parent_s"] = used.get(self.httpd_pid, 0.0)
        kids = sorted((v for pid, v in used.items()
                       if pid != self.httpd_pid and pid not in self.others.values()),
                      reverse=True)
        res["cpu_busiest_child_s"] = kids[0] if kids else 0.0
        res["cpu_other_children_s"] = sum(kids[1:])
        return res


# ---------------------------------------------------------------------------------------------
# static certificates (the floor: mod_ssl with SSLCertificateFile per vhost)

def _ca_cert(subj_cn, key, issuer, issuer_key, now):
    """A CA certificate for KEY, signed by ISSUER_KEY (self-signed when ISSUER is None)."""
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subj_cn)])
    return (x509.CertificateBuilder().subject_name(subj)
            .issuer_name(issuer.subject if issuer is not None else subj)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def static_certs(n):
    """A root, an intermediate and one P-256 key + certificate per bench name v00001..vN, made
    once and cached under $ACME_BENCH_CACHE (default /var/cache/mod_acme-bench). The chain has
    the shape of what mod_acme serves from pebble (a P-256 leaf signed by an RSA-2048
    intermediate, the file holding leaf + intermediate), so that mod_ssl's own cost is the
    same in both columns (a leaf alone costs mod_ssl ~7.6 KB and ~0.23 ms a vhost less).
    Returns (root_file, dir); the files are DIR/NAME.crt (chain) and DIR/NAME.key."""
    d = os.path.join(STATIC_CACHE, "static-chain")
    os.makedirs(d, mode=0o755, exist_ok=True)
    key_file, ca_file = os.path.join(d, "inter.key"), os.path.join(d, "ca.pem")
    inter_file = os.path.join(d, "inter.pem")
    now = datetime.datetime.now(datetime.timezone.utc)
    inter = None
    if all(os.path.exists(f) for f in (key_file, ca_file, inter_file)):
        inter_key = serialization.load_pem_private_key(open(key_file, "rb").read(), None)
        inter = x509.load_pem_x509_certificate(open(inter_file, "rb").read())
        # not_valid_after: naive UTC (Debian 12's python3-cryptography 38 has no *_utc)
        if inter.not_valid_after < now.replace(tzinfo=None) + datetime.timedelta(days=30):
            inter = None
    if inter is None:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root = _ca_cert("mod_acme bench static root", root_key, None, root_key, now)
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        inter = _ca_cert("mod_acme bench static intermediate", inter_key, root, root_key, now)
        _write(key_file, inter_key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600)
        _write(inter_file, inter.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(ca_file, root.public_bytes(serialization.Encoding.PEM), 0o644)
    inter_pem = inter.public_bytes(serialization.Encoding.PEM)
    made = 0
    t0 = time.monotonic()
    for nm in names(n):
        crt, key = os.path.join(d, nm + ".crt"), os.path.join(d, nm + ".key")
        if os.path.exists(crt) and os.path.exists(key):
            continue
        k = ec.generate_private_key(ec.SECP256R1())
        c = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, nm)]))
             .issuer_name(inter.subject).public_key(k.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=3000))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(nm)]), critical=False)
             .sign(inter_key, hashes.SHA256()))
        # root reads them at start-up (mod_ssl loads keys before switching User)
        _write(key, k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()), 0o600)
        _write(crt, c.public_bytes(serialization.Encoding.PEM) + inter_pem, 0o644)
        made += 1
    if made:
        note("static floor: made %d key+certificate chains in %.1f s (cached in %s)"
             % (made, time.monotonic() - t0, d))
    return ca_file, d


def _write(path, data, mode):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


# ---------------------------------------------------------------------------------------------
# report

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
    vers.append("CA binary %s" % harness.PEBBLE)
    try:
        rev = harness.run(["git", "-C", harness.REPO, "describe", "--always", "--dirty"],
                          check=False, timeout=20).stdout.strip()
        vers.append("commit %s" % rev)
    except Exception:  # noqa: BLE001
        pass
    return "nproc %d, %s, memory %s; %s" % (os.cpu_count() or 0, cpu, mem, "; ".join(vers))


def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("s", "MB"):
        if v >= 100:
            return "%.0f" % v
        return "%.2f" % v if v < 10 else "%.1f" % v
    return "%.1f" % v if v != int(v) else "%d" % v


def summary(values, unit):
    """(median, "median [min-max]") of values; (None, "-") when empty."""
    if not values:
        return None, "-"
    med = statistics.median(values)
    if len(values) == 1:
        return med, fmt(med, unit)
    return med, "%s [%s-%s]" % (fmt(med, unit), fmt(min(values), unit), fmt(max(values), unit))


def ratio(a, b):
    if a is None or b is None:
        return "-"
    if b == 0:
        return "-" if a == 0 else "b = 0"
    return "%.2f" % (a / b)


def extrapolate(points, n):
    """Linear extrapolation to n through the two largest (N, value) points."""
    pts = sorted(p for p in points if p[1] is not None)
    if len(pts) < 2:
        return None
    (n1, v1), (n2, v2) = pts[-2], pts[-1]
    if n2 == n1:
        return None
    return v2 + (v2 - v1) * (n - n2) / float(n2 - n1)
