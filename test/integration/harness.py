#!/usr/bin/python3
"""Test harness for mod_acme: a local ACME CA (pebble), its DNS (pebble-challtestsrv) and httpd.

Shared by the pytest fixtures (conftest.py) and scripts/demo.sh. Run with Debian's
/usr/bin/python3 (standard library only).

    /usr/bin/python3 test/integration/harness.py demo       # the module for real, one vhost
    /usr/bin/python3 test/integration/harness.py selfcheck  # the harness itself, no module
    /usr/bin/python3 test/integration/harness.py mdcheck    # issuance path, with Debian's mod_md

Every server listens on 127.0.0.1 high ports, is started in its own process group and is
stopped by its PID (SIGTERM, then SIGKILL to its group after a bounded wait), also at exit.
"""

import atexit
import http.client
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
APACHE_MODDIR = os.environ.get("APACHE_MODDIR", "/usr/lib/apache2/modules")
# The CA: $PEBBLE, else Debian unstable's pebble 2.10 fetched by scripts/pebble-sid.sh into its
# cache ($ACME_PEBBLE_CACHE), else Debian 12's pebble 2.4 (no ARI, no profiles).
PEBBLE_SID = os.path.join(os.environ.get("ACME_PEBBLE_CACHE", "/var/cache/mod_acme-test/pebble-sid"),
                          "root", "usr", "bin", "pebble")
PEBBLE = os.environ.get("PEBBLE") or (PEBBLE_SID if os.access(PEBBLE_SID, os.X_OK)
                                      else "/usr/bin/pebble")
CHALLTESTSRV = os.environ.get("CHALLTESTSRV", "/usr/bin/pebble-challtestsrv")
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
HTTPD_USER = "www-data"
HTTPD_GROUP = "www-data"

FALLBACK_CN = "mod_acme fallback certificate"
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
CONTACT = "admin@example.org"

# Modules every test server loads (mod_watchdog is compiled into Debian's apache2).
BASE_MODULES = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_host_module", "mod_authz_host.so"),
    ("alias_module", "mod_alias.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
    ("ssl_module", "mod_ssl.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("status_module", "mod_status.so"),
]


def module_path():
    """The module under test: $ACME_MODULE or <repo>/build/.libs/mod_acme.so."""
    return os.environ.get("ACME_MODULE") or os.path.join(REPO, "build", ".libs", "mod_acme.so")


class HarnessError(Exception):
    pass


class WaitAbort(HarnessError):
    """Raised by a wait_for predicate: stop waiting, this will not get better."""


# ---------------------------------------------------------------------------------------------
# small helpers

def log(msg):
    print("[harness %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Call predicate until it returns a true value (returned) or timeout seconds pass.

    Exceptions raised by predicate count as "not yet"; the last one is named in the
    TimeoutError. Bounded in time and in count (timeout / interval + 1 calls at most)."""
    deadline = time.monotonic() + timeout
    max_calls = int(timeout / interval) + 2
    last_exc = None
    for _ in range(max_calls):
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except WaitAbort:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure means "not yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError("timed out after %.0f s waiting for %s%s" % (
        timeout, what, "" if last_exc is None else " (last error: %r)" % (last_exc,)))


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_handed_out = set()


def _port_range():
    """20000-32000 (below Linux's ephemeral range, so outgoing connections do not take a port
    meanwhile), split between pytest-xdist workers: a port one worker's test frees for a moment
    (an httpd stopped and started again) is never taken by another worker's server."""
    lo, hi = 20000, 32000
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    try:
        index = int(worker[2:]) if worker.startswith("gw") else -1
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        index, count = -1, 1
    if 0 <= index < count:
        span = (hi - lo) // count
        lo = lo + index * span
        hi = lo + span - 1
    return lo, hi


def free_port():
    """A currently unused TCP+UDP port on 127.0.0.1 from this process' range (_port_range),
    never handed out twice."""
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    lo, hi = _port_range()
    for _ in range(500):
        port = rnd.randint(lo, hi)
        if port in _handed_out:
            continue
        ok = True
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok and not port_accepts(port, timeout=0.2):
            _handed_out.add(port)
            return port
    raise HarnessError("no free port found")


def run(cmd, timeout=60, check=True, **kw):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise HarnessError("%s failed (%d):\n%s" % (" ".join(cmd), res.returncode, res.stdout))
    return res


def tail(path, lines=40):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as exc:
        return "(cannot read %s: %s)\n" % (path, exc)


def server_pids(pgid):
    """The processes of process group pgid (a server: its parent and children)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getpgid(int(d)) == pgid:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def make_tempdir(prefix):
    """A fresh directory under /tmp, mode 0755 (httpd's User must traverse ServerRoots)."""
    d = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("ACME_TEST_TMP", "/tmp"))
    os.chmod(d, 0o755)
    return d


# ---------------------------------------------------------------------------------------------
# processes

_live = []


class Proc:
    """A background server process in its own process group, output to a log file."""

    def __init__(self, name, argv, logfile, env=None, cwd=None, preexec_fn=None):
        self.name, self.argv, self.logfile, self.env, self.cwd = name, argv, logfile, env, cwd
        self.preexec_fn = preexec_fn    # e.g. drop to another user (pg_harness.py)
        self.popen = None

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        if self.running():
            raise HarnessError("%s already running (pid %d)" % (self.name, self.pid))
        logf = open(self.logfile, "ab")
        try:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                          stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                          start_new_session=True, preexec_fn=self.preexec_fn)
        finally:
            logf.close()
        _live.append(self)
        return self

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        if not self.running():
            raise HarnessError("%s is not running (exit %s)" % (
                self.name, None if self.popen is None else self.popen.returncode))
        os.kill(self.popen.pid, sig)

    def group_alive(self):
        """True while any process of the group we created (pgid == our child's pid) exists."""
        if self.popen is None:
            return False
        try:
            os.killpg(self.popen.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def stop(self, timeout=15):
        """SIGTERM to the PID we started, bounded wait, then SIGKILL to its process group."""
        if self.popen is None:
            return
        try:
            if self.popen.poll() is None:
                try:
                    os.kill(self.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log("%s (pid %d) ignored SIGTERM for %d s: SIGKILL" % (
                        self.name, self.popen.pid, timeout))
            # the group: our child and whatever it forked (httpd's children)
            for _ in range(50):
                if not self.group_alive():
                    break
                if self.popen.poll() is not None and _ < 25:
                    time.sleep(0.1)  # children of a stopped parent get a moment to exit
                    continue
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            if self in _live:
                _live.remove(self)


def stop_all():
    for p in list(reversed(_live)):
        try:
            p.stop(timeout=10)
        except Exception as exc:  # noqa: BLE001
            log("stopping %s: %r" % (p.name, exc))


atexit.register(stop_all)


_LOG_TIME_RX = re.compile(r"^\[(\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d)(\.\d+)? (\d{4})\]")


def log_time(line):
    """Epoch seconds of an httpd error log line ("[Sun Nov 22 20:43:22.961646 2026] ..."),
    or None."""
    m = _LOG_TIME_RX.match(line)
    if not m:
        return None
    t = time.mktime(time.strptime("%s %s" % (m.group(1), m.group(3)), "%a %b %d %H:%M:%S %Y"))
    return t + (float(m.group(2)) if m.group(2) else 0.0)


# ---------------------------------------------------------------------------------------------
# openssl helpers

def make_ca_and_leaf(directory, names=("localhost",), ips=("127.0.0.1", "::1"), cn="localhost"):
    """A small CA (ca.pem/ca.key) and a leaf (cert.pem/key.pem) it signed, EC P-256."""
    os.makedirs(directory, exist_ok=True)
    p = lambda f: os.path.join(directory, f)  # noqa: E731
    run([OPENSSL, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "30",
         "-subj", "/CN=mod_acme test listener CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run([OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", p("key.pem"), "-out", p("leaf.csr"), "-subj", "/CN=" + cn])
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
    with open(p("leaf.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=%s\n" % san)
    run([OPENSSL, "x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
         "-CAcreateserial", "-out", p("cert.pem"), "-days", "30", "-extfile", p("leaf.ext")])
    return p("ca.pem"), p("cert.pem"), p("key.pem")


def make_self_signed(directory, names, cn=None):
    """A self-signed certificate for names (static SSLCertificateFile for tests)."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, "static-cert.pem"), os.path.join(directory, "static-key.pem")
    run([OPENSSL, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + (cn or names[0]),
         "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)])
    return cert, key


class CertInfo:
    """Facts about one certificate, parsed with `openssl x509`."""

    def __init__(self, pem):
        self.pem = pem
        out = run([OPENSSL, "x509", "-noout", "-serial", "-subject", "-issuer", "-startdate",
                   "-enddate", "-ext", "subjectAltName", "-nameopt", "RFC2253"],
                  input=pem).stdout
        self.text = out
        self.serial = re.search(r"^serial=([0-9A-Fa-f]+)", out, re.M).group(1).upper()
        self.subject = re.search(r"^subject=(.*)$", out, re.M).group(1).strip()
        self.issuer = re.search(r"^issuer=(.*)$", out, re.M).group(1).strip()
        self.subject_cn = _cn(self.subject)
        self.issuer_cn = _cn(self.issuer)
        self.not_before = ssl.cert_time_to_seconds(
            re.search(r"^notBefore=(.*)$", out, re.M).group(1).strip())
        self.not_after = ssl.cert_time_to_seconds(
            re.search(r"^notAfter=(.*)$", out, re.M).group(1).strip())
        m = re.search(r"Subject Alternative Name:.*?\n\s*(.*)$", out, re.M)
        entries = [e.strip() for e in m.group(1).split(",")] if m else []
        self.sans = sorted(e[4:].lower() for e in entries if e.startswith("DNS:"))
        self.san_ips = sorted(e[11:] for e in entries if e.startswith("IP Address:"))

    @property
    def self_signed(self):
        return self.subject == self.issuer

    @property
    def is_fallback(self):
        return self.subject_cn == FALLBACK_CN

    def __repr__(self):
        return "<CertInfo serial=%s subject=%r issuer=%r sans=%r>" % (
            self.serial, self.subject, self.issuer, self.sans)


def _cn(dn):
    m = re.search(r"(?:^|,)\s*CN=((?:[^,\\]|\\.)*)", dn)
    return m.group(1) if m else None


def first_pem_cert(text):
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", text, re.S)
    return m.group(0) if m else None


def fetch_cert(port, sni, host="127.0.0.1", timeout=5):
    """Handshake with host:port sending SNI sni, without verifying; the leaf as CertInfo."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            der = s.getpeercert(binary_form=True)
    return CertInfo(ssl.DER_cert_to_PEM_cert(der))


def verify_served(port, sni, cafile, host="127.0.0.1", timeout=5):
    """A verifying handshake (chain as httpd serves it, hostname sni) against cafile.
    Returns None when it verifies, else the error text."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    ctx.check_hostname = True
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni):
                return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc)


def verify(cert, ca_pem_text):
    """`openssl verify -partial_chain` of cert (CertInfo or PEM) against the PEM bundle
    ca_pem_text (e.g. pebble's root + intermediate). Returns (ok, output)."""
    pem = cert.pem if isinstance(cert, CertInfo) else cert
    with tempfile.TemporaryDirectory(prefix="acme-verify-") as d:
        ca, leaf = os.path.join(d, "ca.pem"), os.path.join(d, "leaf.pem")
        with open(ca, "w") as f:
            f.write(ca_pem_text)
        with open(leaf, "w") as f:
            f.write(pem)
        res = run([OPENSSL, "verify", "-partial_chain", "-CAfile", ca, leaf], check=False)
    return res.returncode == 0, res.stdout.strip()


# ---------------------------------------------------------------------------------------------
# HTTP

class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.reason, self.text[:120])


def http_request(port, path, host, tls=False, sni=None, method="GET", timeout=10,
                 addr="127.0.0.1", headers=None):
    """One request to addr:port with the given Host header; path is sent exactly as given.
    With tls=True: TLS without verification, SNI sni (default: host)."""
    conn = http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw = socket.create_connection((addr, port), timeout=timeout)
            conn.sock = ctx.wrap_socket(raw, server_hostname=sni or host)
        hdrs = {"Host": host, "Connection": "close", "User-Agent": "mod_acme-tests"}
        hdrs.update(headers or {})
        conn.request(method, path, headers=hdrs)
        r = conn.getresponse()
        body = r.read()
        return Response(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# pebble-challtestsrv

class ChallTestSrv:
    """pebble-challtestsrv as pebble's DNS: every A query answers 127.0.0.1, no AAAA, its own
    challenge responders off."""

    def __init__(self, workdir):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.dns_port = free_port()
        self.mgmt_port = free_port()
        self.logfile = os.path.join(workdir, "challtestsrv.log")
        self.proc = Proc("pebble-challtestsrv", [
            CHALLTESTSRV, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-dns01", "127.0.0.1:%d" % self.dns_port,
            "-management", "127.0.0.1:%d" % self.mgmt_port], self.logfile)

    def start(self, timeout=20):
        self.proc.start()

        def up():
            if not self.proc.running():
                raise WaitAbort("pebble-challtestsrv exited:\n" + tail(self.logfile))
            return port_accepts(self.mgmt_port) and dns_query_a("probe.mod-acme.test",
                                                                 self.dns_port) == "127.0.0.1"
        try:
            wait_for(up, timeout, what="pebble-challtestsrv on 127.0.0.1:%d" % self.mgmt_port)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        self.proc.stop()

    def _post(self, path, payload):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.mgmt_port, path),
                                     data=json.dumps(payload).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status

    def add_a(self, host, addresses):
        return self._post("/add-a", {"host": host, "addresses": list(addresses)})

    def set_txt(self, host, value):
        return self._post("/set-txt", {"host": host, "value": value})

    def clear_txt(self, host):
        return self._post("/clear-txt", {"host": host})


def dns_query_a(name, port, server="127.0.0.1", timeout=2):
    """A minimal DNS A query over UDP; the first address or None."""
    qid = random.randint(0, 0xFFFF)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        data, _ = s.recvfrom(2048)
    finally:
        s.close()
    rid, _flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid or an == 0:
        return None

    def skip_name(i):
        for _ in range(128):
            n = data[i]
            if n == 0:
                return i + 1
            if n & 0xC0 == 0xC0:
                return i + 2
            i += 1 + n
        raise HarnessError("bad DNS name")
    i = 12
    for _ in range(qd):
        i = skip_name(i) + 4
    for _ in range(an):
        i = skip_name(i)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            return socket.inet_ntoa(data[i:i + 4])
        i += rdlen
    return None


# ---------------------------------------------------------------------------------------------
# pebble

DEFAULT_PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}


def _sanitizer_dir(root):
    base = os.environ.get("ACME_SANITIZER_DIR")
    return os.path.join(base, root.strip("/").replace("/", "_")) if base else None


def sanitizer_env(root):
    """Environment for an httpd under a sanitizer (scripts/sanitize.sh integration):
    $ACME_HTTPD_ENV ("NAME=VALUE ...", e.g. LD_PRELOAD=<clang's ASan runtime>) as given, and
    with $ACME_SANITIZER_DIR, ASan/UBSan options that write every report to a directory of
    that httpd's own (asan.<pid>, ubsan.<pid>; see sanitizer_reports())."""
    env = {}
    for item in os.environ.get("ACME_HTTPD_ENV", "").split():
        name, _, value = item.partition("=")
        env[name] = value
    d = _sanitizer_dir(root)
    if d:
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o1777)   # the children (User) write there too
        # no leak check: httpd frees its pools only at exit, and not all of them
        env["ASAN_OPTIONS"] = "detect_leaks=0:log_path=%s/asan" % d
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan" % d
    return env


def sanitizer_reports(root):
    """Paths of the ASan/UBSan reports written by the httpd of root (empty when none)."""
    d = _sanitizer_dir(root)
    if not d or not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.startswith(("asan.", "ubsan.")))


_PEBBLE_FEATURES = {}


def pebble_features(binary=None):
    """What the pebble binary in use can do, probed once per binary (no server started): a
    set with "ari" (renewalInfo, alreadyReplaced) and "profiles" for pebble 2.5 and later
    (Debian unstable's 2.10), empty for Debian 12's 2.4. ARI and profiles came together, and
    only a pebble with ARI has the directory's path for it compiled in."""
    binary = binary or PEBBLE
    if binary not in _PEBBLE_FEATURES:
        try:
            with open(binary, "rb") as f:
                data = f.read()
        except OSError:
            data = b""          # missing: the tools fixture says so
        _PEBBLE_FEATURES[binary] = ({"ari", "profiles"} if b"/renewalInfo/" in data
                                    else set())
    return _PEBBLE_FEATURES[binary]


def pebble_is_210(binary=None):
    return "profiles" in pebble_features(binary)


class Pebble:
    """Debian's pebble on 127.0.0.1 free ports, TLS with a CA of our own, DNS via challtestsrv.

    env: variables for pebble on top of DEFAULT_PEBBLE_ENV; a value None unsets one (e.g.
    {"PEBBLE_WFE_NONCEREJECT": None} for pebble's default 5 % badNonce)."""

    def __init__(self, workdir, dns_port, http_port, tls_port, env=None, validity=None,
                 blocklist=None, extra_config=None):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.dns_port, self.http_port, self.tls_port = dns_port, http_port, tls_port
        self.port = free_port()
        self.mgmt_port = free_port()
        self.ca_file, self.cert_file, self.key_file = make_ca_and_leaf(
            os.path.join(workdir, "tls"))
        self.config_file = os.path.join(workdir, "pebble-config.json")
        self.logfile = os.path.join(workdir, "pebble.log")
        cfg = {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": self.cert_file,
            "privateKey": self.key_file,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        extra = dict(extra_config or {})
        profiles = {}
        if validity is not None:
            # pebble 2.4 reads certificateValidityPeriod; 2.10 ignores it and takes the
            # lifetime from its profiles ("default" unless an order names one; without
            # profiles: 90 days). Either ignores the other's key.
            cfg["certificateValidityPeriod"] = int(validity)
            profiles["default"] = {"description": "test default profile",
                                   "validityPeriod": int(validity)}
        # extra_config's "profiles" are added to (or replace) that "default". Note: pebble
        # 2.10 gives an order that names no profile a RANDOM one of its profiles.
        profiles.update(extra.pop("profiles", None) or {})
        if profiles:
            cfg["profiles"] = profiles
        if blocklist:
            cfg["domainBlocklist"] = list(blocklist)
        cfg.update(extra)
        with open(self.config_file, "w") as f:
            json.dump({"pebble": cfg}, f, indent=2)
        self.env = dict(os.environ)
        for k, v in dict(DEFAULT_PEBBLE_ENV, **(env or {})).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = str(v)
        self.proc = Proc("pebble", [PEBBLE, "-config", self.config_file,
                                    "-dnsserver", "127.0.0.1:%d" % dns_port],
                         self.logfile, env=self.env, cwd=workdir)
        self._roots = None

    @property
    def directory_url(self):
        return "https://127.0.0.1:%d/dir" % self.port

    def _ctx(self):
        return ssl.create_default_context(cafile=self.ca_file)

    def get(self, url, timeout=5):
        with urllib.request.urlopen(url, context=self._ctx(), timeout=timeout) as r:
            return r.status, r.read().decode()

    def directory(self):
        status, body = self.get(self.directory_url)
        return json.loads(body) if status == 200 else None

    def start(self, timeout=30):
        """Start (again: same ports, same listener CA, a new issuing root)."""
        self._roots = None
        self.proc.start()

        def up():
            if not self.proc.running():
                raise WaitAbort("pebble exited:\n" + tail(self.logfile))
            return "newOrder" in (self.directory() or {})
        try:
            wait_for(up, timeout, what="pebble at " + self.directory_url)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        self.proc.stop()

    def running(self):
        return self.proc.running()

    def log_text(self):
        with open(self.logfile, "r", errors="replace") as f:
            return f.read()

    def mark(self):
        """Position in the log: count(..., since=mark) counts what was logged after it."""
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def count(self, regex, since=0):
        """Lines of the log (from byte offset since) matching regex, e.g. r"POST /order-plz"."""
        with open(self.logfile, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        rx = re.compile(regex)
        return sum(1 for line in text.splitlines() if rx.search(line))

    def orders(self, since=0):
        return self.count(r"POST /order-plz", since)

    def roots(self):
        """PEM of pebble's issuing root + intermediate (new at every start of pebble)."""
        if self._roots is None:
            base = "https://127.0.0.1:%d" % self.mgmt_port
            _, root = self.get(base + "/roots/0")
            _, inter = self.get(base + "/intermediates/0")
            self._roots = root.strip() + "\n" + inter.strip() + "\n"
        return self._roots

    def roots_file(self):
        path = os.path.join(self.workdir, "issuing-roots.pem")
        with open(path, "w") as f:
            f.write(self.roots())
        return path

    def set_renewal_info(self, cert_pem, suggested_window=None, raw=None):
        """pebble 2.10's management API: make renewalInfo for this certificate answer
        {"suggestedWindow": {"start", "end"}} (epoch seconds) or the raw text given, instead
        of pebble's own window (2/3 into the lifetime, +-24 h). Pebble still adds its fixed
        Retry-After of 6 h."""
        if raw is None:
            def t(epoch):
                return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
            raw = json.dumps({"suggestedWindow": {"start": t(suggested_window[0]),
                                                  "end": t(suggested_window[1])}})
        body = json.dumps({"Certificate": cert_pem, "ARIResponse": raw}).encode()
        req = urllib.request.Request("https://127.0.0.1:%d/set-renewal-info/" % self.mgmt_port,
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ctx(), timeout=5) as r:
            return r.status

    def root_file(self):
        """Only the root (for a verifying client: httpd must serve the intermediate)."""
        base = "https://127.0.0.1:%d" % self.mgmt_port
        _, root = self.get(base + "/roots/0")
        path = os.path.join(self.workdir, "issuing-root.pem")
        with open(path, "w") as f:
            f.write(root)
        return path


# ---------------------------------------------------------------------------------------------
# httpd

class VHost:
    """One VirtualHost: ssl=True puts it on the https port with SSLEngine on (and no certificate
    of its own unless lines say so), ssl=False on the plain port."""

    def __init__(self, name, aliases=(), ssl=True, lines=()):
        self.name, self.aliases, self.ssl, self.lines = name, list(aliases), ssl, list(lines)

    @property
    def names(self):
        return [self.name] + self.aliases


class Httpd:
    """Debian's apache2 from a self-contained config in a fresh ServerRoot.

    acme_lines: global lines (ACMEServer ..., ACME on); vhosts: list of VHost; load_acme: load
    the module under test (module_path(), $ACME_MODULE)."""

    def __init__(self, root, http_port, https_port, vhosts=(), acme_lines=(), load_acme=True,
                 module=None, global_lines=(), loglevel="info"):
        self.root = root
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        self.http_port, self.https_port = http_port, https_port
        self.vhosts = list(vhosts)
        self.acme_lines = list(acme_lines)
        self.global_lines = list(global_lines)
        self.load_acme = load_acme
        self.module = module or module_path()
        self.loglevel = loglevel
        self.conf = os.path.join(root, "conf", "httpd.conf")
        self.error_log_file = os.path.join(root, "logs", "error.log")
        self.access_log_file = os.path.join(root, "logs", "access.log")
        self.stderr_file = os.path.join(root, "logs", "stderr.log")
        self.proc = Proc("apache2", [APACHE2, "-d", root, "-f", self.conf, "-DFOREGROUND"],
                         self.stderr_file, env=self._env())
        self.write_config()

    @property
    def store(self):
        """The default store: <ServerRoot>/acme."""
        return os.path.join(self.root, "acme")

    @property
    def pid(self):
        return self.proc.pid

    def _env(self):
        env = dict(os.environ)
        env.setdefault("LANG", "C")
        env.update(sanitizer_env(self.root))
        return env

    def config_lines(self):
        r, mods = self.root, APACHE_MODDIR
        lines = [
            "# generated by test/integration/harness.py",
            'ServerRoot "%s"' % r,
            'DefaultRuntimeDir "%s/run"' % r,
            'PidFile "%s/run/httpd.pid"' % r,
            'Mutex file:%s/run default' % r,
            "ServerName 127.0.0.1",
        ]
        lines += ["LoadModule %s %s/%s" % (n, mods, f) for n, f in BASE_MODULES]
        if self.load_acme:
            lines.append("LoadModule acme_module %s" % self.module)
        lines += [
            "User %s" % HTTPD_USER,
            "Group %s" % HTTPD_GROUP,
            'ErrorLog "%s"' % self.error_log_file,
            "LogLevel %s ssl:warn" % self.loglevel,
        ]
        if self.load_acme:
            lines.append("LogLevel acme:debug")
        lines += [
            'TransferLog "%s"' % self.access_log_file,
            "Listen 127.0.0.1:%d" % self.http_port,
            "Listen 127.0.0.1:%d https" % self.https_port,
            "TypesConfig /etc/mime.types",
            "DirectoryIndex index.html",
            'SSLSessionCache "shmcb:%s/run/ssl_scache(512000)"' % r,
            'DocumentRoot "%s/htdocs/_default"' % r,
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            '<Directory "%s/htdocs">' % r,
            "    Require all granted",
            "</Directory>",
        ]
        lines += self.global_lines
        lines += self.acme_lines
        for v in self.vhosts:
            port = self.https_port if v.ssl else self.http_port
            lines.append("")
            lines.append("<VirtualHost *:%d>" % port)
            lines.append("    ServerName %s" % v.name)
            if v.aliases:
                lines.append("    ServerAlias %s" % " ".join(v.aliases))
            lines.append('    DocumentRoot "%s"' % self.docroot(v))
            if v.ssl:
                lines.append("    SSLEngine on")
            lines += ["    " + line for line in v.lines]
            lines.append("</VirtualHost>")
        return lines

    def docroot(self, v):
        return os.path.join(self.root, "htdocs", ("https-" if v.ssl else "http-") + v.name)

    def write_config(self):
        for d in ("conf", "logs", "run", "htdocs/_default"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        with open(os.path.join(self.root, "htdocs", "_default", "index.html"), "w") as f:
            f.write("<html><body>default server</body></html>\n")
        for v in self.vhosts:
            d = self.docroot(v)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "index.html"), "w") as f:
                f.write("<html><body>%s %s</body></html>\n" % ("https" if v.ssl else "http", v.name))
        with open(self.conf, "w") as f:
            f.write("\n".join(self.config_lines()) + "\n")

    def line_of(self, text):
        """1-based line number of the first config line whose stripped text equals text."""
        with open(self.conf) as f:
            for i, line in enumerate(f, 1):
                if line.strip() == text.strip():
                    return i
        raise HarnessError("%r not in %s" % (text, self.conf))

    def configtest(self, timeout=60):
        res = run([APACHE2, "-d", self.root, "-f", self.conf, "-t"], timeout=timeout,
                  check=False, env=self._env())
        return res.returncode, res.stdout

    def error_log(self):
        try:
            with open(self.error_log_file, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def diagnostics(self, lines=40):
        """The error log's tail, earlier [acme:*] lines not in it, stderr's tail."""
        all_lines = self.error_log().splitlines(True)
        last = all_lines[-lines:]
        acme = [line for line in all_lines[:-lines] if "[acme:" in line][-lines:]
        return "--- %s: earlier [acme:*] lines\n%s--- %s (tail)\n%s--- %s (tail)\n%s" % (
            self.error_log_file, "".join(acme), self.error_log_file, "".join(last),
            self.stderr_file, tail(self.stderr_file, 10))

    def running(self):
        return self.proc.running()

    def _check_alive(self):
        if not self.proc.running():
            raise WaitAbort("apache2 exited (code %s):\n%s" % (
                self.proc.popen.returncode if self.proc.popen else None, self.diagnostics()))

    def start(self, timeout=30):
        """Start in the foreground (our child is httpd's parent) and wait until both ports
        accept connections."""
        self.proc.start()

        def up():
            self._check_alive()
            return port_accepts(self.http_port) and port_accepts(self.https_port)
        try:
            wait_for(up, timeout, interval=0.1, what="apache2 ports %d/%d" % (
                self.http_port, self.https_port))
        except TimeoutError as exc:
            diag = self.diagnostics()
            self.stop()
            raise HarnessError("%s\n%s" % (exc, diag))
        except HarnessError:
            self.stop()
            raise
        return self

    def generations(self):
        return len(re.findall(r"resuming normal operations", self.error_log()))

    def graceful(self, wait=True, timeout=30):
        """SIGUSR1 to the PID we started; with wait, until the new generation is up."""
        before = self.generations()
        self.proc.signal(signal.SIGUSR1)
        if wait:
            self.wait_for(lambda: self.generations() > before, timeout,
                          what="graceful restart of apache2")
            self.wait_for(lambda: port_accepts(self.https_port), 10, what="https port")

    def stop(self, timeout=15):
        self.proc.stop(timeout=timeout)
        reports = sanitizer_reports(self.root)
        if reports:
            raise HarnessError("sanitizer reports from apache2 (%s):\n%s" % (
                self.root, "\n".join(tail(r, 60) for r in reports)))

    def processes_left(self):
        return self.proc.group_alive()

    def wait_for(self, predicate, timeout, interval=0.25, what="condition"):
        """wait_for that fails at once (with the error log) when httpd has died."""
        def pred():
            self._check_alive()
            return predicate()
        try:
            return wait_for(pred, timeout, interval, what)
        except TimeoutError as exc:
            raise TimeoutError("%s\n%s" % (exc, self.diagnostics())) from None
        except WaitAbort as exc:
            if "apache2 exited" in str(exc):
                raise
            raise WaitAbort("%s\n%s" % (exc, self.diagnostics())) from None

    def log_mark(self):
        """Position in the error log: log_entries(..., since=mark) returns what came after."""
        try:
            return os.path.getsize(self.error_log_file)
        except OSError:
            return 0

    def log_entries(self, regex, since=0):
        """[(epoch seconds, line)] of the error log lines (from byte offset since) matching
        regex, with the time parsed from httpd's "[Sun Nov 22 20:43:22.961646 2026]" prefix
        (None when a line has none)."""
        try:
            with open(self.error_log_file, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        rx = re.compile(regex)
        out = []
        for line in text.splitlines():
            if rx.search(line):
                out.append((log_time(line), line))
        return out

    # clients -------------------------------------------------------------------------------

    def get(self, path, host, tls=False, **kw):
        port = self.https_port if tls else self.http_port
        return http_request(port, path, host, tls=tls, **kw)

    def cert(self, sni):
        return fetch_cert(self.https_port, sni)

    def wait_for_cert(self, name, pebble, timeout=60, not_serial=None, names=None):
        """Wait until the https port serves name a certificate that is not the fallback, verifies
        against pebble's root+intermediate and (optionally) has a serial other than not_serial.
        With names: a pebble certificate whose SANs are not exactly these fails at once.
        Returns (CertInfo, seconds waited)."""
        t0 = time.monotonic()
        roots = pebble.roots()
        seen = {}

        def issued():
            c = self.cert(name)
            if c.is_fallback or c.self_signed or c.serial == not_serial:
                return None
            if c.serial not in seen:
                seen[c.serial] = verify(c, roots)
            ok, out = seen[c.serial]
            if not ok:
                raise WaitAbort("SNI %s: the served certificate does not verify against pebble's "
                                "root+intermediate: %s\n%s" % (name, out, c.text))
            if names is not None and c.sans != sorted(n.lower() for n in names):
                raise WaitAbort("SNI %s: served a pebble certificate for %r, expected exactly %r"
                                % (name, c.sans, sorted(names)))
            return c
        c = self.wait_for(issued, timeout, interval=0.5,
                          what="a pebble-issued certificate for %s" % name)
        return c, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------
# lifecycle helpers (certificate renewal tests)

def norm_serial(serial):
    """Hex serial without separators, upper case, no leading zeros (for comparisons)."""
    return re.sub(r"[^0-9A-Fa-f]", "", serial or "").upper().lstrip("0") or "0"


def store_certs(directory):
    """{serial: path} of every certificate (first one of each PEM file) under directory."""
    found = {}
    if not os.path.isdir(directory):
        return found
    for dirpath, _dirs, files in os.walk(directory):
        for f in files:
            if not f.endswith(".pem"):
                continue
            p = os.path.join(dirpath, f)
            try:
                with open(p) as fh:
                    pem = first_pem_cert(fh.read())
            except (OSError, UnicodeDecodeError):
                continue
            if pem:
                try:
                    found.setdefault(norm_serial(CertInfo(pem).serial), p)
                except (HarnessError, AttributeError):
                    pass
    return found


NOTIFY_SCRIPT = """#!/bin/bash
# test-only ACMENotifyCmd: one file per run in %(dir)s, argv and ACME_* environment
f="%(dir)s/$(date +%%s%%N)-$$"
{
  echo "time=$(date +%%s.%%N)"
  echo "uid=$(id -u)"
  echo "pid=$$"
  for a in "$@"; do echo "arg=$a"; done
  env | grep '^ACME_' | sort | sed 's/^/env:/'
} > "$f.tmp" && mv "$f.tmp" "$f.rec"
%(tail)s
"""


def write_notify_script(directory, tail_code="exit 0", name="notify.sh"):
    """A recording notify program in directory (made 0777 for the httpd User); the records go
    to directory/records. tail_code runs after recording (e.g. 'exit 1'). Returns the
    script's path."""
    rec = os.path.join(directory, "records")
    os.makedirs(rec, exist_ok=True)
    os.chmod(directory, 0o755)
    os.chmod(rec, 0o777)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(NOTIFY_SCRIPT % {"dir": rec, "tail": tail_code})
    os.chmod(path, 0o755)
    return path


def notify_records(directory):
    """The runs a write_notify_script program recorded, oldest first: dicts with time, uid,
    pid, args (list) and env (dict of ACME_*)."""
    rec = os.path.join(directory, "records")
    out = []
    for f in sorted(os.listdir(rec)) if os.path.isdir(rec) else []:
        if not f.endswith(".rec"):
            continue
        r = {"args": [], "env": {}, "file": f}
        with open(os.path.join(rec, f), errors="replace") as fh:
            for line in fh.read().splitlines():
                k, _, v = line.partition("=")
                if k == "arg":
                    r["args"].append(v)
                elif k.startswith("env:"):
                    r["env"][k[4:]] = v
                elif k in ("time", "uid", "pid"):
                    r[k] = float(v) if k == "time" else int(v)
        out.append(r)
    out.sort(key=lambda r: r.get("time", 0))
    return out


# ---------------------------------------------------------------------------------------------
# the demo and the self-check

def acme_lines(pebble_or_url, ca_file, contact=CONTACT, extra=()):
    url = pebble_or_url if isinstance(pebble_or_url, str) else pebble_or_url.directory_url
    return ["ACMEServer %s" % url,
            'ACMEServerCAFile "%s"' % ca_file,
            "ACMEContact %s" % contact,
            "ACMEAgreeTerms on",
            "ACME on"] + list(extra)


def _install_signal_handlers():
    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def demo(timeout=90):
    name = "demo.mod-acme.test"
    mod = module_path()
    if not os.path.isfile(mod):
        log("module %s not found: run scripts/build.sh first" % mod)
        return 2
    work = make_tempdir("mod_acme-demo-")
    cts = peb = httpd = None
    rc = 1
    try:
        http_port, https_port = free_port(), free_port()
        cts = ChallTestSrv(os.path.join(work, "challtestsrv")).start()
        peb = Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port, https_port).start()
        log("pebble at %s (DNS: challtestsrv 127.0.0.1:%d)" % (peb.directory_url, cts.dns_port))
        httpd = Httpd(os.path.join(work, "httpd"), http_port, https_port,
                      vhosts=[VHost(name)], acme_lines=acme_lines(peb, peb.ca_file))
        log("httpd config %s:\n    %s" % (httpd.conf, "\n    ".join(
            line for line in httpd.config_lines() if line.startswith("ACME"))))
        t0 = time.monotonic()
        httpd.start()
        log("httpd started (pid %d): http 127.0.0.1:%d, https 127.0.0.1:%d" % (
            httpd.pid, http_port, https_port))
        first = httpd.cert(name)
        log("first certificate served: %s (issuer %s)" % (first.subject, first.issuer))
        cert, _ = httpd.wait_for_cert(name, peb, timeout=timeout, names=[name])
        elapsed = time.monotonic() - t0
        out = run([OPENSSL, "x509", "-noout", "-subject", "-issuer", "-ext", "subjectAltName",
                   "-dates", "-serial"], input=cert.pem).stdout
        print("https://%s/ (127.0.0.1:%d) serves a certificate issued by pebble %.1f s after "
              "start:\n%s" % (name, https_port, elapsed, out), flush=True)
        r = httpd.get("/", name, tls=True)
        print("GET https://%s/ -> %d %s" % (name, r.status, r.reason), flush=True)
        rc = 0
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001
        print("demo FAILED: %s" % exc, file=sys.stderr)
        if httpd is not None:
            print(httpd.diagnostics(), file=sys.stderr)
        if peb is not None:
            print("--- pebble log (tail)\n" + tail(peb.logfile, 25), file=sys.stderr)
        rc = 1
    finally:
        for s in (httpd, peb, cts):
            if s is not None:
                s.stop()
        if rc == 0 and not os.environ.get("ACME_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("kept %s" % work)
    return rc


def selfcheck():
    """Validate the harness without the module: pebble + challtestsrv answer; httpd with
    mod_ssl and a static certificate answers on both ports; stop() leaves nothing behind."""
    work = make_tempdir("mod_acme-selfcheck-")
    servers = []
    try:
        http_port, https_port = free_port(), free_port()
        cts = ChallTestSrv(os.path.join(work, "challtestsrv")).start()
        servers.append(cts)
        log("challtestsrv: dns 127.0.0.1:%d resolves x.mod-acme.test -> %s" % (
            cts.dns_port, dns_query_a("x.mod-acme.test", cts.dns_port)))
        peb = Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port, https_port)
        peb.start()
        servers.append(peb)
        d = peb.directory()
        log("pebble /dir: %s" % sorted(d))
        roots = peb.roots()
        assert roots.count("BEGIN CERTIFICATE") == 2, roots
        log("pebble roots: %s / %s" % (CertInfo(first_pem_cert(roots)).subject,
                                       CertInfo(roots.split("-----END CERTIFICATE-----\n", 1)[1]).subject))
        log("pebble log: %d newNonce/dir requests so far" % peb.count(r"GET /dir"))
        peb.stop()
        assert not peb.proc.group_alive()
        old_port = peb.port
        peb.start()
        assert peb.port == old_port
        log("pebble restarted on the same port %d" % peb.port)

        root = os.path.join(work, "httpd")
        cert, key = make_self_signed(os.path.join(work, "static"), ["s.mod-acme.test"])
        httpd = Httpd(root, http_port, https_port, load_acme=False, vhosts=[
            VHost("p.mod-acme.test", ssl=False),
            VHost("s.mod-acme.test", lines=["SSLCertificateFile %s" % cert,
                                            "SSLCertificateKeyFile %s" % key])])
        rc, out = httpd.configtest()
        assert rc == 0 and "Syntax OK" in out, out
        httpd.start()
        servers.append(httpd)
        r1 = httpd.get("/", "p.mod-acme.test")
        r2 = httpd.get("/", "s.mod-acme.test", tls=True)
        c = httpd.cert("s.mod-acme.test")
        log("httpd pid %d: http %d %r, https %d %r, cert %s" % (
            httpd.pid, r1.status, r1.text.strip(), r2.status, r2.text.strip(), c))
        assert r1.status == 200 and "http p.mod-acme.test" in r1.text
        assert r2.status == 200 and "https s.mod-acme.test" in r2.text
        assert c.sans == ["s.mod-acme.test"]
        r3 = httpd.get(CHALLENGE_PREFIX + "x", "p.mod-acme.test")
        log("no module: %s%s -> %d" % (CHALLENGE_PREFIX, "x", r3.status))
        httpd.graceful()
        log("graceful restart: generations now %d" % httpd.generations())
        pid = httpd.pid
        httpd.stop()
        left = subprocess.run(["ps", "-o", "pid,pgid,user,args", "-g", str(pid)],
                              stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()
        assert not httpd.processes_left() and len(left) <= 1, left
        assert not port_accepts(https_port) and not port_accepts(http_port)
        log("httpd stopped, no process of group %d left" % pid)
        print("selfcheck OK", flush=True)
        return 0
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


def mdcheck(timeout=60):
    """Validate the harness's issuance path without mod_acme, with Debian's mod_md: pebble
    (DNS via challtestsrv) validates http-01 against httpd's plain port (through a vhost that
    redirects everything), a graceful restart activates the certificate, wait_for_cert and
    verify accept it, a stop/start keeps it without a new order."""
    work = make_tempdir("mod_acme-mdcheck-")
    servers = []
    name = "md.mod-acme.test"
    try:
        http_port, https_port = free_port(), free_port()
        cts = ChallTestSrv(os.path.join(work, "challtestsrv")).start()
        servers.append(cts)
        peb = Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port, https_port).start()
        servers.append(peb)
        md = ["LoadModule md_module %s/mod_md.so" % APACHE_MODDIR,
              "MDCertificateAuthority %s" % peb.directory_url,
              'MDCACertificateFile "%s"' % peb.ca_file,
              "MDCertificateAgreement accepted", "MDContactEmail %s" % CONTACT,
              "MDPortMap http:%d https:%d" % (http_port, https_port),
              "MDCAChallenges http-01", "MDomain %s www.%s" % (name, name)]
        httpd = Httpd(os.path.join(work, "httpd"), http_port, https_port, load_acme=False,
                      global_lines=md, vhosts=[
                          VHost(name, aliases=["www." + name]),
                          VHost(name, ssl=False, lines=["Redirect permanent / https://%s/" % name])])
        t0 = time.monotonic()
        httpd.start()
        servers.append(httpd)
        log("before: %r, https GET -> %d" % (httpd.cert(name), httpd.get("/", name, tls=True).status))
        httpd.wait_for(lambda: os.path.isdir(os.path.join(httpd.root, "md", "staging", name)),
                       timeout, what="mod_md staging %s" % name)
        time.sleep(1)
        log("staged after %.1f s" % (time.monotonic() - t0))
        httpd.graceful()
        cert, _ = httpd.wait_for_cert(name, peb, timeout=30)
        assert cert.sans == sorted([name, "www." + name]), cert
        assert verify_served(https_port, "www." + name, peb.root_file()) is None
        assert peb.count(r"Attempting to validate w/ HTTP: http://%s:" % re.escape(name)) >= 1
        log("issued: %r, %d order(s)" % (cert, peb.orders()))
        mark = peb.mark()
        httpd.stop()
        httpd.start()
        assert httpd.cert(name).serial == cert.serial and peb.orders(since=mark) == 0
        httpd.stop()
        assert not httpd.processes_left()
        print("mdcheck OK", flush=True)
        return 0
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    _install_signal_handlers()
    if len(argv) < 2 or argv[1] not in ("demo", "selfcheck", "mdcheck"):
        print("usage: %s demo|selfcheck|mdcheck" % argv[0], file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("%s: must run as root (httpd switches to User %s)" % (argv[0], HTTPD_USER),
              file=sys.stderr)
        return 2
    return {"demo": demo, "selfcheck": selfcheck, "mdcheck": mdcheck}[argv[1]]()


def httpd_user_ids():
    pw = pwd.getpwnam(HTTPD_USER)
    return pw.pw_uid, pw.pw_gid


if __name__ == "__main__":
    sys.exit(main(sys.argv))
