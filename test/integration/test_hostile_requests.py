"""Issue 8, test 5: hostile requests on the http-01 responder.

A real order is kept in flight while the hostile requests are sent: a TEST-ONLY relay ("the
gate") sits between pebble's validation client and httpd's plain port. It reads pebble's
http-01 request (so the test learns the real token and the Host pebble uses) and holds it
until the test opens the gate; then it relays the request to httpd unchanged and pebble
validates for real. Nothing of the CA is mocked: pebble issues the certificate at the end,
which is the positive control that the responder still answers the genuine request. The last
test holds a second order across a graceful restart: the new generation must answer it.

Measured too: 10,000 unknown tokens over keep-alive connections (all 404, parent and child
VmRSS flat), and with strace on every child: while nothing is pending, no file is touched at
all for hostile or unknown tokens (a static-file request in the same burst is the positive
control that strace sees the children's file access); while the order is in flight, unknown
tokens cause no look-up in the store either (the genuine token's look-up in the same burst
is the positive control).

Expected answers (measured on Debian's apache2 2.4, HttpProtocolOptions Strict):
  - everything under /.well-known/acme-challenge/ that is not exactly a pending base64url
    token asked for with its own Host: 404 from mod_acme, before any file is touched;
  - a literal NUL or a literal control character in the request line: 400 from httpd itself
    (the request never reaches a module);
  - the 64 KiB token: 414 from httpd itself (LimitRequestLine, 8190 bytes by default);
  - a leading "//" is collapsed by httpd's own request parser (before any module): that is the
    genuine request (200 with the token's own Host, 404 with any other);
  - other obfuscated prefixes (%61cme-challenge, upper case, "/./"): not the responder's:
    httpd maps them into the DocumentRoot, where nothing exists: 404 from httpd's core.
"""

import hashlib
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

import harness
from harness import VHost

NAME = "hostile.mod-acme.test"
OTHER = "other.mod-acme.test"          # another vhost of the same server (plain http)
SECOND = "second.hostile.mod-acme.test"  # a managed vhost added later
PREFIX = harness.CHALLENGE_PREFIX
UNKNOWN_FLOOD = 10000
FLOOD_SECONDS = 240                    # bound of the whole flood (2 shared cores)


def recv_until(sock, marker, limit):
    """Bytes read from sock until marker was seen, limit bytes were read or the peer closed."""
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


# ---------------------------------------------------------------------------------------------
# the TEST-ONLY gate in front of httpd's plain port (pebble's httpPort points here)

class Gate:
    """Accepts pebble's validation connections, records the request line and Host, holds
    them until open() (bounded by hold seconds), then relays them to httpd both ways."""

    def __init__(self, target_port, hold=300):
        self.target_port, self.hold = target_port, hold
        self.port = harness.free_port()
        self.opened = threading.Event()
        self.stopping = threading.Event()
        self.seen = []                  # (path, host, time) of every request
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        up = None
        try:
            conn.settimeout(10)
            head = recv_until(conn, b"\r\n\r\n", 16384)
            if b"\r\n\r\n" not in head:
                return
            text = head.decode("latin-1")
            m = re.match(r"^[A-Z]+ (\S+) HTTP", text)
            h = re.search(r"^Host:\s*([^\r\n:]+)", text, re.M | re.I)
            with self.lock:
                self.seen.append((m.group(1) if m else None, h.group(1) if h else None,
                                  time.time()))
            deadline = time.monotonic() + self.hold
            while not self.opened.wait(0.2):
                if self.stopping.is_set() or time.monotonic() > deadline:
                    return
            up = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            up.sendall(head)
            socks = [conn, up]
            end = time.monotonic() + 30
            while time.monotonic() < end:
                r, _, _ = select.select(socks, [], [], 1)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is conn else conn).sendall(data)
        except OSError:
            return
        finally:
            for s in (conn, up):
                if s is not None:
                    s.close()

    def tokens(self):
        """[(token, host)] of the held http-01 requests, oldest first."""
        with self.lock:
            return [(p[len(PREFIX):], h) for p, h, _ in self.seen
                    if p and p.startswith(PREFIX)]

    def open(self):
        self.opened.set()

    def close(self):
        """Hold new requests again."""
        self.opened.clear()

    def stop(self):
        self.stopping.set()
        self.opened.set()
        self.sock.close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------
# raw HTTP: the exact bytes, also those http.client refuses to send

def raw_status(port, request, timeout=10):
    """Send request (bytes) on a fresh connection; the status code of the answer (int), or
    None when httpd closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = recv_until(s, b"\r\n", 65536)
    m = re.match(rb"^HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def get_raw(port, target, host=NAME, method=b"GET"):
    if isinstance(target, str):
        target = target.encode("latin-1")
    req = method + b" " + target + b" HTTP/1.1\r\nHost: " + host.encode() + \
        b"\r\nUser-Agent: mod_acme-tests\r\nConnection: close\r\n\r\n"
    return raw_status(port, req)


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def httpd_children(parent_pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent_pid:
            out.append(int(d))
    return sorted(out)


def flood(port, paths, host=NAME, connections=4, deadline=None):
    """GET every path over `connections` keep-alive connections in parallel; returns
    {status: count}. Bounded: stops at deadline (monotonic) and raises."""
    import http.client
    counts, lock, errors = {}, threading.Lock(), []
    chunks = [paths[i::connections] for i in range(connections)]

    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local = {}
        try:
            for p in chunk:
                if deadline and time.monotonic() > deadline:
                    errors.append("deadline passed")
                    return
                for attempt in range(3):
                    try:
                        conn.request("GET", p, headers={"Host": host,
                                                        "User-Agent": "mod_acme-tests"})
                        r = conn.getresponse()
                        r.read()
                        local[r.status] = local.get(r.status, 0) + 1
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()   # keep-alive limit reached: reconnect
                        if attempt == 2:
                            raise
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            conn.close()
            with lock:
                for k, v in local.items():
                    counts[k] = counts.get(k, 0) + v
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(FLOOD_SECONDS)
    assert not errors, errors[:5]
    assert not any(t.is_alive() for t in threads), "flood threads still running"
    return counts


def unknown_tokens(n, seed):
    """n distinct valid-looking (base64url, 43 characters) tokens nobody issued."""
    out = []
    for i in range(n):
        h = hashlib.sha256(("%s-%d" % (seed, i)).encode()).digest()
        out.append(harness_b64u(h))
    return out


def harness_b64u(raw):
    import base64
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---------------------------------------------------------------------------------------------
# the server: one managed vhost whose order is held in flight by the gate

class Env:
    pass


@pytest.fixture(scope="module")
def env(workdir, challtestsrv, ports):
    e = Env()
    e.gate = Gate(ports[0])
    # no reuse of valid authorizations: the renewal needs a validation of its own
    e.pebble = harness.Pebble(os.path.join(workdir, "pebble-gated"), challtestsrv.dns_port,
                              e.gate.port, ports[1], env={"PEBBLE_AUTHZREUSE": "0"})
    e.httpd = None
    try:
        e.pebble.start()
        root = harness.make_tempdir("mod_acme-httpd-")
        e.httpd = harness.Httpd(root, ports[0], ports[1], vhosts=[
            VHost(NAME), VHost(NAME, ssl=False), VHost(OTHER, ssl=False)],
            acme_lines=harness.acme_lines(e.pebble, e.pebble.ca_file,
                                          extra=["ACMEChallenges http-01"]))
        e.httpd.start()
        held = harness.wait_for(lambda: e.gate.tokens(), 90, interval=0.25,
                                what="pebble's http-01 request held at the gate")
        e.token, e.va_host = held[0]
        e.t_held = time.monotonic()
        print("order in flight: token %s (Host %s)" % (e.token, e.va_host))
        yield e
    finally:
        e.gate.stop()
        if e.httpd is not None:
            e.httpd.stop()
            if not os.environ.get("ACME_TEST_KEEP"):
                shutil.rmtree(e.httpd.root, ignore_errors=True)
        e.pebble.stop()


def test_genuine_request_answered(env):
    """Positive control: the held token with its own Host gets the key authorization."""
    assert env.va_host == NAME
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", env.token), env.token
    r = env.httpd.get(PREFIX + env.token, NAME)
    assert r.status == 200, r
    assert r.text.startswith(env.token + "."), r
    assert r.header("cache-control") == "no-store"
    # host names are case-insensitive; a port in Host is not part of the name
    assert env.httpd.get(PREFIX + env.token, NAME.upper()).status == 200
    assert env.httpd.get(PREFIX + env.token, "%s:%d" % (NAME, env.httpd.http_port)).status == 200


def test_traversal_variants_404(env):
    t = env.token
    port = env.httpd.http_port
    variants = [
        "../../../../etc/passwd",
        "..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "..%5c..%5c..%5cetc%5cpasswd",
        "..\\..\\..\\etc\\passwd",
        "/etc/passwd",
        "//" + t,
        "/" + t,
        t + "/",
        t + "/..",
        t + "/../" + t,
        "./" + t,
        "../acme-challenge/" + t,
        "%2e/" + t,
        t + "%00",
        t + "%00.txt",
        "%00" + t,
        "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "%c0%af..%c0%afetc%c0%afpasswd",
        "%e0%80%ae%e0%80%ae/etc/passwd",
        "%f0%80%80%ae%f0%80%80%ae/etc/passwd",
        "%25c0%25ae%25c0%25ae/etc/passwd",
        "..;/etc/passwd",
        "",
        ".",
        "..",
        "%" + t,
        t + "%2f",
        t + "%20",
        t + "+",
        t + ".",
        t[:-1],
        t + "A",
        "%" + "%02X" % ord(t[0]) + t[1:],             # the token, one character %-encoded
        hashlib.sha256(t.encode()).hexdigest(),        # its store name is not a token
        "x" * (256 + 1),                               # longer than any token we look up
        "x" * 8000,                                    # still fits httpd's request line
    ]
    bad = {}
    for v in variants:
        st = get_raw(port, PREFIX + v)
        if st != 404:
            bad[v[:80]] = st
    # raw bytes httpd's request line still accepts (not control characters)
    for v in (b"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd", b"\xc0\xaf" + t.encode(),
              t.encode() + b"\xe2\x80\xae"):
        st = get_raw(port, PREFIX.encode() + v)
        if st != 404:
            bad[repr(v[:80])] = st
    # absolute-form request targets
    for v in ("http://%s%s../../etc/passwd" % (NAME, PREFIX),
              "http://%s%s%%2e%%2e" % (NAME, PREFIX)):
        st = get_raw(port, v)
        if st != 404:
            bad[v] = st
    # the genuine token with a method other than GET/HEAD
    for m in (b"POST", b"PUT", b"DELETE", b"OPTIONS"):
        st = get_raw(port, PREFIX + t, method=m)
        if st != 404:
            bad["%s %s" % (m.decode(), t)] = st
    assert not bad, "not answered 404: %r" % bad


def test_rejected_by_httpd_first(env):
    """What httpd itself rejects before any module sees it: 400 (NUL or control characters in
    the request line), 414 (a 64 KiB token: LimitRequestLine)."""
    port = env.httpd.http_port
    t = env.token.encode()
    assert get_raw(port, PREFIX.encode() + t + b"\x00") == 400
    assert get_raw(port, PREFIX.encode() + b"\x00../../etc/passwd") == 400
    assert get_raw(port, PREFIX.encode() + t + b"\x01") == 400
    assert get_raw(port, PREFIX.encode() + b"..\t../etc/passwd") == 400
    assert get_raw(port, PREFIX.encode() + b"A" * 65536) == 414
    assert get_raw(port, PREFIX.encode() + t * (65536 // len(t) + 1)) == 414


def test_obfuscated_prefix_not_the_responders(env):
    """Prefixes the responder does not claim: httpd's core looks in the DocumentRoot, where
    there is nothing: 404, and never the key authorization."""
    t = env.token
    port = env.httpd.http_port
    # httpd's request parser itself collapses leading slashes before any module sees the
    # path: "//.well-known/..." is the genuine request (200 with its own Host only)
    assert get_raw(port, "/" + PREFIX + t) == 200
    assert get_raw(port, "/" + PREFIX + t, host=OTHER) == 404
    for target in ("/.well-known//acme-challenge/" + t,
                   "/.well-known/%61cme-challenge/" + t, "/.WELL-KNOWN/ACME-CHALLENGE/" + t,
                   "/.well-known/./acme-challenge/" + t, "/x/../.well-known/acme-challenge/" + t,
                   "/.well-known/acme-challenge%2f" + t):
        st = get_raw(port, target)
        assert st == 404, (target, st)
        r = harness.http_request(port, target, NAME)
        assert t not in r.text, (target, r)


def test_token_of_another_host_404(env):
    """The genuine pending token, asked for with a Host it was not issued for."""
    t = env.token
    port = env.httpd.http_port
    for host in (OTHER, "127.0.0.1", "www." + NAME, NAME + ".evil.test", "localhost"):
        r = harness.http_request(port, PREFIX + t, host)
        assert r.status == 404 and t not in r.text, (host, r)
    # HTTP/1.0 without any Host header
    st = raw_status(port, b"GET " + (PREFIX + t).encode() + b" HTTP/1.0\r\n\r\n")
    assert st == 404
    # and over TLS on the https vhost with the right name the answer is the same as on http
    r = harness.http_request(env.httpd.https_port, PREFIX + t, OTHER, tls=True, sni=NAME)
    assert r.status in (404, 421) and t not in r.text, r


def test_unknown_token_flood_flat_rss_no_files(env, timing):
    """10,000 unknown (well-formed) tokens over keep-alive connections: all 404, the parent's
    and the children's RSS stay flat; during a burst, strace of every child shows no file
    opened outside the store, and none at all for malformed tokens."""
    httpd = env.httpd
    port = httpd.http_port
    deadline = time.monotonic() + FLOOD_SECONDS
    # warm up (pools, allocator free lists, every worker thread once)
    warm = flood(port, [PREFIX + tk for tk in unknown_tokens(1000, "warm")], deadline=deadline)
    assert warm == {404: 1000}, warm
    parent = httpd.pid
    before = {pid: proc_rss_kb(pid) for pid in [parent] + httpd_children(parent)}
    t0 = time.monotonic()
    counts = flood(port, [PREFIX + tk for tk in unknown_tokens(UNKNOWN_FLOOD, "flood")],
                   deadline=deadline)
    elapsed = time.monotonic() - t0
    timing("hostile: %d unknown tokens" % UNKNOWN_FLOOD, elapsed)
    assert counts == {404: UNKNOWN_FLOOD}, counts
    after = {pid: proc_rss_kb(pid) for pid in [parent] + httpd_children(parent)}
    grown = {}
    for pid, kb in before.items():
        if kb is None or after.get(pid) is None:
            continue          # a child that ended meanwhile
        grown[pid] = after[pid] - kb
        print("pid %d%s: VmRSS %d kB -> %d kB (%+d kB)" % (
            pid, " (parent)" if pid == parent else "", kb, after[pid], after[pid] - kb))
    assert parent in grown, "the parent's RSS could not be read"
    assert grown[parent] <= 512, "parent RSS grew by %d kB" % grown[parent]
    assert len(grown) >= 2, "no child measured before and after: %r %r" % (before, after)
    worst = max(v for p, v in grown.items() if p != parent)
    assert worst <= 2048, "a child's RSS grew by %d kB over %d requests" % (worst, UNKNOWN_FLOOD)
    print("%d requests in %.1f s (%.0f/s); RSS growth: parent %+d kB, worst child %+d kB" % (
        UNKNOWN_FLOOD, elapsed, UNKNOWN_FLOOD / elapsed, grown[parent], worst))


def test_no_lookup_for_unknown_tokens_while_pending(env):
    """While the order is held in flight (its response published, so the pending count is not
    0): with strace on every child, a burst of unknown well-formed tokens causes no look-up
    under <store>/challenges/ at all (the shared table of pending questions answers them),
    while the genuine token, asked for in the same burst, is looked up in its own entry (the
    positive control that strace sees the responder's store access)."""
    httpd = env.httpd
    store = os.path.realpath(httpd.store)
    entry = hashlib.sha256(env.token.encode()).hexdigest()
    assert os.path.isdir(os.path.join(store, "challenges", entry)), "the order is not in flight"
    unknown = [PREFIX + u for u in unknown_tokens(200, "pending")]
    counts, calls = _strace_burst(httpd, {"unknown": (unknown, NAME),
                                          "genuine": ([PREFIX + env.token] * 3, NAME)})
    assert counts == {"unknown": {404: len(unknown)}, "genuine": {200: 3}}, counts
    looked = [line for _, path, line in calls
              if os.path.normpath(path).startswith(os.path.join(store, "challenges") + "/")]
    print("%d look-ups under challenges/ for %d unknown and 3 genuine requests" % (
        len(looked), len(unknown)))
    for line in looked[:10]:
        print("  " + line)
    genuine = [line for line in looked if "/%s/" % entry in line]
    assert len(genuine) >= 3, "strace saw no look-up of the genuine token:\n%s" % (
        "\n".join(looked[:20]) or "(none)")
    others = [line for line in looked if "/%s/" % entry not in line]
    assert not others, "look-ups for unknown tokens while an order is pending:\n" + \
        "\n".join(others[:20])


def test_released_order_issues(env, timing):
    """The gate opens: pebble's held validation reaches httpd, the responder answers it and
    pebble issues. The hostile requests above did not disturb the genuine one."""
    held = time.monotonic() - env.t_held
    env.gate.open()
    cert, waited = env.httpd.wait_for_cert(NAME, env.pebble, timeout=120, names=[NAME])
    timing("hostile: gate opened after %.0f s -> certificate served" % held, waited)
    # pebble validated the held request; the gate saw no second one for another token
    assert env.token in [tk for tk, _ in env.gate.tokens()]


def _settled_children(httpd):
    """httpd's children once no certificate waits in staging/ (its activation restart is
    done) and the same children have been there for a second: strace attaches to these, so
    a restart right before the burst would leave the requests to children it never saw."""
    staging = os.path.join(httpd.store, "staging")
    httpd.wait_for(lambda: not os.path.isdir(staging) or not os.listdir(staging), 60,
                   interval=0.2, what="no certificate waiting in staging/")

    def stable():
        before = httpd_children(httpd.pid)
        time.sleep(1.0)
        after = httpd_children(httpd.pid)
        return after if after and after == before else None
    return harness.wait_for(stable, 60, interval=0.1, what="httpd's children settled")


def _strace_burst(httpd, paths_by_kind):
    """strace -f every child of httpd while sending the requests ({kind: (paths, Host)});
    ({kind: {status: count}}, [(syscall, path, line)] of the path syscalls seen). The MPM may
    fork a new child during the burst (more load than its spare threads): strace never sees
    the requests that child answers, so a burst after which httpd has a child strace did not
    trace is sent again (at most 3 times)."""
    for attempt in range(3):
        counts, calls, kids = _strace_burst_once(httpd, paths_by_kind)
        new = set(httpd_children(httpd.pid)) - set(kids)
        if not new:
            return counts, calls
        print("burst %d: httpd forked child(ren) %s during it, not traced: sent again" % (
            attempt, sorted(new)))
    raise AssertionError("httpd forked untraced children during 3 bursts of 3")


def _strace_burst_once(httpd, paths_by_kind):
    strace = shutil.which("strace")
    assert strace, "strace missing (Debian package strace: scripts/deps.sh installs it)"
    kids = _settled_children(httpd)
    out = os.path.join(httpd.root, "logs", "strace.out")
    argv = [strace, "-f", "-qq", "-e", "trace=open,openat,openat2,stat,lstat,newfstatat,"
            "statx,access,faccessat,faccessat2,readlink,readlinkat,execve",
            "-e", "signal=none", "-o", out]
    for k in kids:
        argv += ["-p", str(k)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # strace attaches asynchronously: wait until it has attached to the children
        harness.wait_for(lambda: all(_traced(k) for k in kids), 20, interval=0.1,
                         what="strace attached to %r" % kids)
        counts = {}
        for kind, (paths, host) in paths_by_kind.items():
            counts[kind] = flood(httpd.http_port, paths, host=host, connections=2,
                                 deadline=time.monotonic() + FLOOD_SECONDS)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    calls = []
    with open(out, errors="replace") as f:
        for line in f:
            m = re.search(r"\b(\w+)\((?:AT_FDCWD|\d+|-?\d+), \"([^\"]*)\"", line) or \
                re.search(r"\b(\w+)\(\"([^\"]*)\"", line)
            # an empty path with AT_EMPTY_PATH is fstat of an open descriptor (the watchdog
            # reading a file it opened): not a look-up by name
            if m and m.group(2):
                calls.append((m.group(1), m.group(2), line.strip()))
    return counts, calls, kids


def _traced(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)
    except OSError:
        return True   # gone: nothing to wait for


def test_no_file_outside_the_store(env):
    """After the order (nothing pending): malformed and well-formed unknown tokens alike are
    answered without any file access: no look-up under <store>/challenges/, nothing outside
    the store. (While an order is in flight, a well-formed token costs one look-up of its
    own entry, challenges/<SHA-256 of the token>/: no part of the URL becomes a path.)"""
    httpd = env.httpd
    store = os.path.realpath(httpd.store)
    httpd.wait_for(lambda: not os.listdir(os.path.join(store, "challenges")), 30,
                   what="no challenge left in the store")
    malformed = [PREFIX + v for v in ("../../../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                      "..%5c..%5cetc%5cpasswd", "%c0%ae%c0%ae/etc/passwd",
                                      env.token + "%00", "x" * 300)] * 25
    unknown = unknown_tokens(100, "strace") + [env.token]
    # positive control: static files of another vhost, which httpd must open (strace sees)
    control = os.path.realpath(httpd.docroot(VHost(OTHER, ssl=False)))
    counts, calls = _strace_burst(httpd, {"malformed": (malformed, NAME),
                                          "unknown": ([PREFIX + u for u in unknown], NAME),
                                          "control": (["/index.html"] * 5, OTHER)})
    assert counts == {"malformed": {404: len(malformed)}, "unknown": {404: len(unknown)},
                      "control": {200: 5}}, counts
    seen_control = [c for c in calls if os.path.normpath(c[1]).startswith(control)]
    assert len(seen_control) >= 5, "strace saw no file access of the control requests:\n%s" % (
        "\n".join(c[2] for c in calls[:20]))
    outside, in_store = [], []
    for call, path, line in calls:
        p = os.path.normpath(path)
        if p == control or p.startswith(control + "/") or p in ("/", os.path.dirname(control),
                                                                  os.path.dirname(
                                                                      os.path.dirname(control))):
            continue     # the control requests' directory walk
        if p == store or p.startswith(store + "/"):
            in_store.append(line)
        else:
            outside.append(line)
    print("%d path syscalls in the burst: %d inside the store, %d outside" % (
        len(calls), len(in_store), len(outside)))
    for line in in_store[:20]:
        print("  " + line)
    assert not outside, "files touched outside the store:\n" + "\n".join(outside[:20])
    # the watchdog (once a second, in one child) may read its own store files meanwhile;
    # nothing may look under challenges/
    looked = [line for line in in_store if "/challenges" in line]
    assert not looked, "challenge look-ups with nothing pending:\n" + "\n".join(looked[:20])


def test_second_order_across_graceful_restart(env, timing):
    """Runs last. A second managed vhost is added (graceful restart): its first order is held
    at the gate; another graceful restart while it is in flight: the new generation's
    children answer its token at once (the count of pending responses outlives the
    generation; a child the restart ended keeps counting, ACME00193), another Host still gets
    404; released, pebble validates and the resumed order is issued."""
    httpd = env.httpd
    env.gate.close()
    seen = len(env.gate.tokens())
    httpd.vhosts.append(VHost(SECOND))
    httpd.write_config()
    httpd.graceful()
    held = harness.wait_for(lambda: env.gate.tokens()[seen:], 90, interval=0.25,
                            what="the second order's http-01 request held at the gate")
    token, host = held[0]
    assert host == SECOND and token != env.token
    gens = httpd.generations()
    httpd.graceful()
    assert httpd.generations() > gens
    r = httpd.get(PREFIX + token, SECOND)
    assert r.status == 200 and r.text.startswith(token + "."), r
    assert httpd.get(PREFIX + token, NAME).status == 404
    assert flood(httpd.http_port, [PREFIX + u for u in unknown_tokens(200, "after")],
                 host=SECOND) == {404: 200}
    env.gate.open()
    t0 = time.monotonic()
    httpd.wait_for_cert(SECOND, env.pebble, timeout=120, names=[SECOND])
    timing("hostile: order across a graceful restart, released -> served",
           time.monotonic() - t0)
    for _, line in httpd.log_entries(r"ACME0019[234]:"):
        print(line)
