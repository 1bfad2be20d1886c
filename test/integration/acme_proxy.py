#!/usr/bin/python3
"""TEST-ONLY ACME proxy in front of pebble. Never use it outside the integration tests.

Pebble (2.4 of Debian 12 lacks ARI altogether; 2.10 has ARI but a fixed Retry-After and no
way to make a request fail) lacks what some lifecycle and fault tests need; this proxy adds it.
Tests of ARI as such run against pebble 2.10's own renewalInfo (test_lifecycle_ari_pebble.py):

  - ARI (RFC 9773): it puts its own "renewalInfo" in pebble's directory (replacing 2.10's)
    and answers GET /renewalInfo/<certID> itself, with a suggestedWindow, an explanationURL
    and a Retry-After header chosen by the test (pebble 2.10 always answers Retry-After 6 h);
  - a record of every ACME request (method, path, time, status) with the decoded JWS
    protected header and payload of every POST (so tests can read newOrder's "replaces");
  - injected errors: e.g. answer newOrder with 429 + urn:ietf:params:acme:error:rateLimited +
    Retry-After: N, for the next K requests or until a given time (pebble 2.4 cannot be told
    to rate-limit);
  - per-name faults (fault table, test_faults.py): for one identifier's newOrder, finalize
    (names read from the CSR) or certificate download (names read from the leaf pebble
    issued), answer with a 5xx problem, a 429 with Retry-After, non-JSON garbage, a body far
    larger than any ACME object, a truncated body, a connection reset, a hang; or replace the
    certificate pebble issued with a wrong one (other names, expired, another key, unparsable,
    leaf not signed by the next certificate, leaf without chain, leaf without chain but with a
    Link rel="up" to its issuer). Wrong certificates are made with Python's `cryptography`
    and a CA of the proxy's own;
  - a rate limit like a CA's (rate_limit): a token bucket of `count` requests per `period`
    seconds on one endpoint; beyond it, 429 + rateLimited + Retry-After (the seconds until
    the next request conforms, rounded up), as Let's Encrypt does;
  - stop()/start() on the same port.

Every other request is forwarded to pebble unchanged, with its Host header preserved: pebble
builds the URLs in its answers (directory, Location, order/authz/finalize URLs) from the Host
it sees and checks the JWS "url" against https://<Host><path>, so a client that talks to the
proxy sees proxy URLs everywhere and its signed requests verify at pebble.

The proxy serves TLS with the same certificate/key the harness made for pebble's own listener
(a leaf for 127.0.0.1/localhost from the harness's test CA), so the client's CA file
(ACMEServerCAFile) is the same for pebble and for the proxy.

Used from the tests as an object (thread-safe; settings are plain attributes):

    proxy = AcmeProxy(pebble).start()
    proxy.directory_url                   # https://127.0.0.1:PORT/dir
    proxy.ari = True                      # offer renewalInfo in the directory
    proxy.ari_window = (start, end)       # epoch seconds, or ari_window_fn(cert_id) -> (s, e)
    proxy.ari_retry_after = 3600          # Retry-After of renewalInfo answers (None: none)
    proxy.ari_explanation_url = "https://..."
    proxy.inject(r"^/order-plz$", method="POST", retry_after=20, count=1)
    proxy.fault("a.test", "truncated")    # see FAULTS; proxy.clear_fault("a.test")
    lim = proxy.rate_limit(r"^/order-plz$", method="POST", count=2, period=6)
    lim.limited                           # how many requests it answered 429
    proxy.requests(path=r"^/order-plz$", method="POST")   # list of Record
    proxy.stop()

Run `/usr/bin/python3 acme_proxy.py selfcheck` (as root) to validate the proxy against a real
pebble without mod_acme (a small JWS client in Python, and Debian's mod_md, which speaks ARI).
"""

import base64
import http.client
import http.server
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time

__all__ = ["AcmeProxy", "Record", "Injection", "RateLimit", "Fault", "FAULTS", "rfc3339", "b64u",
           "b64u_decode"]

RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
MINI_UA = "mod_acme-test-proxy"   # the proxy's own requests: pebble 2.10 needs a User-Agent
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "content-length", "date", "server"}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Record:
    """One request the proxy saw. time: wall clock (time.time()), mono: time.monotonic()."""

    __slots__ = ("method", "path", "time", "mono", "status", "injected", "protected", "payload",
                 "signature", "response_headers", "response_body")

    def __init__(self, method, path):
        self.method, self.path = method, path
        self.time, self.mono = time.time(), time.monotonic()
        self.status = None
        self.injected = False
        self.protected = None   # decoded JWS protected header of a POST (dict) or None
        self.payload = None     # decoded JWS payload of a POST: dict, "" (POST-as-GET) or None
        self.signature = None   # the JWS "signature" field of a POST, as sent (base64url)
        self.response_headers = {}
        self.response_body = b""

    def __repr__(self):
        return "<%s %s -> %s%s at %.3f>" % (self.method, self.path, self.status,
                                            " (injected)" if self.injected else "", self.mono)


class Injection:
    """Answer matching requests with an error instead of forwarding them, while active:
    for the next `count` matches (None: unlimited) and until `until` (epoch, None: no limit);
    with identifier, only POSTs whose JWS payload's identifiers name it."""

    def __init__(self, path, method=None, status=429, problem_type=RATE_LIMITED,
                 detail="test-only proxy: rate limit injected", retry_after=None, count=None,
                 until=None, identifier=None):
        self.path_rx = re.compile(path)
        self.identifier = identifier  # only requests whose JWS payload names this identifier
        self.method = method
        self.status, self.problem_type, self.detail = status, problem_type, detail
        self.retry_after, self.count, self.until = retry_after, count, until
        self.hits = 0

    def matches(self, method, path, now, payload=None):
        if self.method is not None and method != self.method:
            return False
        if self.identifier is not None:
            ids = payload.get("identifiers", []) if isinstance(payload, dict) else []
            if not any(i.get("value") == self.identifier for i in ids if isinstance(i, dict)):
                return False
        if not self.path_rx.search(path):
            return False
        if self.until is not None and now >= self.until:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        return True


class RateLimit:
    """A CA's rate limit on one endpoint: a token bucket (generic cell rate algorithm) of
    `count` requests at once, refilled at count per `period` seconds. A request beyond it is
    answered 429 rateLimited with Retry-After: the seconds until one conforms, rounded up.
    Like a CA's new-orders limit, only requests pebble accepted (2xx) spend a token."""

    def __init__(self, path, method=None, count=1, period=1.0):
        self.path_rx = re.compile(path)
        self.method = method
        self.count, self.period = int(count), float(period)
        self.interval = self.period / self.count
        self.tat = 0.0          # monotonic time the bucket is empty until
        self.allowed = 0
        self.limited = 0

    def applies(self, method, path):
        return (self.method is None or method == self.method) and bool(
            self.path_rx.search(path))

    def check(self, now):
        """None when a request conforms now, else the seconds to wait (counted as limited)."""
        earliest = self.tat - (self.period - self.interval)
        if now < earliest:
            self.limited += 1
            return earliest - now
        return None

    def take(self, now):
        """A conforming request was accepted upstream: it spends a token."""
        self.tat = max(self.tat, now) + self.interval
        self.allowed += 1


# kind -> the endpoint where it strikes by default ("newOrder", "finalize" or "cert")
FAULTS = {
    "5xx": "newOrder",          # 500 + urn:ietf:params:acme:error:serverInternal
    "429": "newOrder",          # 429 + rateLimited + Retry-After: proxy.fault_retry_after
    "garbage": "newOrder",      # 200 text/html, not JSON
    "reset": "finalize",        # TCP RST instead of an answer
    "hang": "finalize",         # no answer for proxy.fault_hang seconds, then close
    "truncated": "cert",        # Content-Length of the whole chain, half of it, close_notify
    "huge": "cert",             # 5 MB of JSON-looking bytes
    "other_names": "cert",      # the issued key, other names, signed by the proxy's CA
    "expired": "cert",          # the issued key and names, expired yesterday
    "wrong_key": "cert",        # the names, another key
    "unparsable": "cert",       # the chain with its first PEM block corrupted
    "wrong_signer": "cert",     # leaf naming pebble's intermediate, signed by another key
    "leaf_only": "cert",        # the leaf alone, no Link rel="up"
    "leaf_only_up": "cert",     # the leaf alone, Link rel="up" to the rest (served here)
}
PEM_CHAIN = "application/pem-certificate-chain"


class Fault:
    """A fault for the orders/certificates of one name (see FAULTS); active until cleared."""

    def __init__(self, name, kind, endpoint=None):
        if kind not in FAULTS:
            raise ValueError("unknown fault kind %r" % kind)
        self.name, self.kind = name.lower(), kind
        self.endpoint = endpoint or FAULTS[kind]
        if self.endpoint not in ("newOrder", "finalize", "cert"):
            raise ValueError("unknown endpoint %r" % self.endpoint)
        if FAULTS[kind] == "cert" and kind not in ("truncated", "huge") \
                and self.endpoint != "cert":
            raise ValueError("%s replaces a certificate: it strikes at 'cert' only" % kind)
        self.hits = 0

    def __repr__(self):
        return "<Fault %s %s at %s, %d hits>" % (self.kind, self.name, self.endpoint, self.hits)


def _names_of_csr(b64):
    from cryptography import x509  # Debian's python3-cryptography
    try:
        csr = x509.load_der_x509_csr(b64u_decode(b64))
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except (ValueError, x509.ExtensionNotFound):
        return []


def _pem_blocks(pem):
    return re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", pem,
                      re.S)


class _WrongCerts:
    """A CA of the proxy's own (root -> intermediate) and the wrong certificates it makes."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.x509, self.hashes, self.ec, self.NameOID = x509, hashes, ec, NameOID
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.rogue_key = ec.generate_private_key(ec.SECP256R1())
        root_name = self._name("test-only proxy root")
        self.root = self._build(root_name, root_name, self.root_key.public_key(), self.root_key,
                                ca=True)
        self.int = self._build(self._name("test-only proxy intermediate"), root_name,
                               self.int_key.public_key(), self.root_key, ca=True)

    def _name(self, cn):
        return self.x509.Name([self.x509.NameAttribute(self.NameOID.COMMON_NAME, cn)])

    def _build(self, subject, issuer, pub, sign_key, ca=False, names=None, days=(-1, 30)):
        import datetime
        x509 = self.x509
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(pub).serial_number(x509.random_serial_number())
             .not_valid_before(now + datetime.timedelta(days=days[0]))
             .not_valid_after(now + datetime.timedelta(days=days[1]))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                critical=False)
        return b.sign(sign_key, self.hashes.SHA256())

    @staticmethod
    def _pem(*certs):
        from cryptography.hazmat.primitives import serialization
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def make(self, kind, chain_pem):
        """The body that replaces chain_pem (pebble's answer) for a certificate fault."""
        x509 = self.x509
        blocks = _pem_blocks(chain_pem)
        leaf = x509.load_pem_x509_certificate(blocks[0])
        names = leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        pub = leaf.public_key()
        if kind == "other_names":
            c = self._build(leaf.subject, self.int.subject, pub, self.int_key,
                            names=["wrong-name.mod-acme.test"])
            return self._pem(c, self.int)
        if kind == "expired":
            c = self._build(leaf.subject, self.int.subject, pub, self.int_key, names=names,
                            days=(-10, -1))
            return self._pem(c, self.int)
        if kind == "wrong_key":
            other = self.ec.generate_private_key(self.ec.SECP256R1()).public_key()
            c = self._build(leaf.subject, self.int.subject, other, self.int_key, names=names)
            return self._pem(c, self.int)
        if kind == "wrong_signer":
            c = self._build(leaf.subject, leaf.issuer, pub, self.rogue_key, names=names)
            return self._pem(c) + b"".join(blocks[1:])
        if kind == "unparsable":
            lines = blocks[0].split(b"\n")
            lines[len(lines) // 2] = b"!!!! not base64 !!!!"
            return b"\n".join(lines) + b"".join(blocks[1:])
        if kind in ("leaf_only", "leaf_only_up"):
            return blocks[0]
        raise ValueError(kind)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, proxy):
        self.proxy = proxy
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = super().get_request()
        # TLS handshake in the handler's thread (setup), not in the accept loop
        return self.proxy._server_ctx.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False), addr


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "acme-test-proxy/1"
    timeout = 30  # idle keep-alive connections are closed after this

    def setup(self):
        self.request.settimeout(self.timeout)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True
        with self.server.conns_lock:
            self.server.conns.add(self.request)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.conns_lock:
                self.server.conns.discard(self.request)

    def handle(self):
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            pass

    def log_message(self, fmt, *args):  # quiet; everything is in proxy.records
        pass

    def _body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            for _ in range(100000):
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _any(self):
        body = self._body() if self.command in ("POST", "PUT") else b""
        self.server.proxy._handle(self, body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _any

    def send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if self.command != "HEAD" or body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()


class AcmeProxy:
    """TEST-ONLY HTTPS reverse proxy in front of pebble (see the module docstring)."""

    def __init__(self, pebble=None, upstream_port=None, cert_file=None, key_file=None,
                 ca_file=None, port=None, ari=True):
        if pebble is not None:
            upstream_port = upstream_port or pebble.port
            cert_file, key_file = cert_file or pebble.cert_file, key_file or pebble.key_file
            ca_file = ca_file or pebble.ca_file
        if not (upstream_port and cert_file and key_file and ca_file):
            raise ValueError("AcmeProxy needs pebble or upstream_port/cert_file/key_file/ca_file")
        self.upstream_port = upstream_port
        self.cert_file, self.key_file, self.ca_file = cert_file, key_file, ca_file
        if port is None:
            import harness  # noqa: PLC0415 - the tests' port allocator
            port = harness.free_port()
        self.port = port
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(cert_file, key_file)
        self._client_ctx = ssl.create_default_context(cafile=ca_file)
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self.records = []
        self.injections = []
        self.rate_limits = []
        # run-time switches (plain attributes; reads are atomic)
        self.ari = ari
        now = time.time()
        self.ari_window = (now + 30 * 86400, now + 31 * 86400)
        self.ari_window_fn = None
        self.ari_retry_after = 3600
        self.ari_explanation_url = None
        self.new_order_path = "/order-plz"
        self.new_nonce_path = "/nonce-plz"
        self.upstream_timeout = 15
        self.faults = {}               # name -> Fault
        self.fault_hang = 8            # seconds a "hang" holds the request
        self.fault_retry_after = 4     # Retry-After of a "429" fault
        self._issuers = {}             # token -> rest of a chain (leaf_only_up)
        self._wrong = None
        self._stopping = threading.Event()

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def base_url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def directory_url(self):
        return self.base_url + "/dir"

    @property
    def renewal_info_url(self):
        return self.base_url + "/renewalInfo"

    def start(self):
        if self._server is not None:
            raise RuntimeError("proxy already running on port %d" % self.port)
        self._server = _Server(("127.0.0.1", self.port), _Handler, self)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="acme-proxy-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening and cut every open connection (the CA is then unreachable here)."""
        srv, self._server = self._server, None
        if srv is None:
            return
        self._stopping.set()
        srv.shutdown()
        srv.server_close()
        with srv.conns_lock:
            conns = list(srv.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def running(self):
        return self._server is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- test API -----------------------------------------------------------------------------

    def inject(self, path, **kw):
        """Add an Injection (see there); returns it (its .hits counts the answers given)."""
        inj = Injection(path, **kw)
        with self._lock:
            self.injections.append(inj)
        return inj

    def fault(self, name, kind, endpoint=None):
        """Arm a fault (FAULTS) for name's orders and certificates; returns the Fault."""
        f = Fault(name, kind, endpoint)
        with self._lock:
            self.faults[f.name] = f
        return f

    def clear_fault(self, name):
        with self._lock:
            return self.faults.pop(name.lower(), None)

    def rate_limit(self, path, method=None, count=1, period=1.0):
        lim = RateLimit(path, method, count, period)
        with self._lock:
            self.rate_limits.append(lim)
        return lim

    def clear_rate_limits(self):
        with self._lock:
            self.rate_limits = []

    def clear_injections(self):
        with self._lock:
            self.injections = []

    def mark(self):
        """A position: requests(since=mark) returns what came after it."""
        with self._lock:
            return len(self.records)

    def requests(self, path=None, method=None, since=0):
        rx = re.compile(path) if path else None
        with self._lock:
            recs = list(self.records[since:])
        return [r for r in recs if (method is None or r.method == method)
                and (rx is None or rx.search(r.path))]

    def new_orders(self, since=0):
        return self.requests(path="^" + re.escape(self.new_order_path) + "$", method="POST",
                             since=since)

    def renewal_info_requests(self, since=0):
        return self.requests(path=r"^/renewalInfo(/|$)", since=since)

    def summary(self, since=0):
        """A printable list of the recorded requests (for failure messages)."""
        recs = self.requests(since=since)
        t0 = recs[0].mono if recs else 0
        return "\n".join("  +%7.3f s %-4s %s -> %s%s" % (
            r.mono - t0, r.method, r.path, r.status, " (injected)" if r.injected else "")
            for r in recs)

    # --- request handling ---------------------------------------------------------------------

    def _record(self, rec):
        with self._lock:
            self.records.append(rec)

    def _handle(self, h, body):
        path = h.path
        rec = Record(h.command, path)
        if h.command == "POST" and body:
            try:
                jws = json.loads(body)
                rec.protected = json.loads(b64u_decode(jws["protected"]))
                rec.signature = jws.get("signature")
                raw = b64u_decode(jws.get("payload", ""))
                rec.payload = json.loads(raw) if raw else ""
            except (ValueError, KeyError, TypeError):
                pass
        self._record(rec)
        now = time.time()
        inj = None
        with self._lock:
            for i in self.injections:
                if i.matches(h.command, path, now, rec.payload):
                    i.hits += 1
                    inj = i
                    break
            limits = [lim for lim in self.rate_limits if lim.applies(h.command, path)]
            for lim in limits if inj is None else []:
                wait = lim.check(time.monotonic())
                if wait is not None:
                    inj = Injection(path="", retry_after=max(1, int(-(-wait // 1))),
                                    detail="test-only proxy: rate limit of %d per %g s "
                                    "reached" % (lim.count, lim.period))
                    break
        fault = self._request_fault(h.command, path, rec.payload)
        try:
            if fault is not None:
                early = fault.kind in ("5xx", "429", "garbage", "reset", "hang", "huge")
                answer = self._fault_answer(h, fault, None if early else self._forward(h, body))
            elif inj is not None:
                answer = self._injected(h, inj)
                rec.injected = True
            elif re.match(r"^/renewalInfo(/|$)", path):
                answer = self._renewal_info(h, path)
            elif path.startswith("/test-proxy/issuer/"):
                answer = self._issuer(h, path)
            else:
                answer = self._forward(h, body)
                fault = self._cert_fault(h.command, answer)
                if fault is not None:
                    answer = self._fault_answer(h, fault, answer)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            answer = 502, [("Content-Type", "text/plain")], (
                "test-only proxy: upstream pebble unreachable: %s\n" % exc).encode()
        if fault is not None:
            rec.injected = True
        if inj is None and answer is not None and 200 <= answer[0] < 300:
            with self._lock:
                for lim in limits:
                    lim.take(time.monotonic())
        if answer is None:   # the fault took the connection itself
            rec.status = "fault:" + fault.kind
            return
        status, headers, out = answer
        rec.status = status
        rec.response_headers = {k.lower(): v for k, v in headers}
        rec.response_body = out
        h.send(status, headers, out)

    # --- faults -------------------------------------------------------------------------------

    def _request_fault(self, method, path, payload):
        """The armed fault for a newOrder or finalize request, by the names it carries."""
        if method != "POST" or not isinstance(payload, dict) or not self.faults:
            return None
        if path == self.new_order_path:
            endpoint = "newOrder"
            names = [i.get("value", "").lower() for i in payload.get("identifiers", [])
                     if isinstance(i, dict)]
        elif "csr" in payload:
            endpoint, names = "finalize", _names_of_csr(payload["csr"])
        else:
            return None
        return self._fault_for(endpoint, names)

    def _cert_fault(self, method, answer):
        """The armed fault for a certificate download, by the names of the issued leaf."""
        status, headers, out = answer
        ctype = [v for k, v in headers if k.lower() == "content-type"]
        if (method != "POST" or status != 200 or not self.faults or not ctype
                or not ctype[0].startswith(PEM_CHAIN)):
            return None
        from cryptography import x509
        blocks = _pem_blocks(out)
        if not blocks:
            return None
        leaf = x509.load_pem_x509_certificate(blocks[0])
        try:
            names = [n.lower() for n in leaf.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)]
        except x509.ExtensionNotFound:
            names = []
        return self._fault_for("cert", names)

    def _fault_for(self, endpoint, names):
        with self._lock:
            for n in names:
                f = self.faults.get(n)
                if f is not None and f.endpoint == endpoint:
                    f.hits += 1
                    return f
        return None

    def _fault_answer(self, h, f, answer):
        """(status, headers, body) for the fault, or None when it answered (or not) itself."""
        kind = f.kind
        if kind == "5xx":
            return 500, self._problem_headers(h), self._problem(
                500, "urn:ietf:params:acme:error:serverInternal",
                "test-only proxy: injected server error")
        if kind == "429":
            hdrs = self._problem_headers(h) + [("Retry-After", str(int(self.fault_retry_after)))]
            return 429, hdrs, self._problem(429, RATE_LIMITED,
                                           "test-only proxy: injected rate limit")
        if kind == "garbage":
            return 200, [("Content-Type", "text/html")], (
                b"<html><body><h1>Welcome to nginx!</h1> test-only proxy garbage</body></html>")
        if kind == "reset":
            self._reset(h)
            return None
        if kind == "hang":
            self._stopping.wait(self.fault_hang)
            h.close_connection = True
            return None
        if kind == "huge":
            self._huge(h)
            return None
        status, headers, out = answer
        if kind == "truncated":
            self._truncated(h, status, headers, out)
            return None
        if self._wrong is None:
            with self._lock:
                if self._wrong is None:
                    self._wrong = _WrongCerts()
        headers = [(k, v) for k, v in headers if k.lower() != "link" or "rel=\"up\"" not in v]
        if kind == "leaf_only_up":
            token = b64u(os.urandom(12))
            self._issuers[token] = b"".join(_pem_blocks(out)[1:])
            headers.append(("Link", '<https://%s/test-proxy/issuer/%s>;rel="up"' % (
                self._host(h), token)))
        return status, headers, self._wrong.make(kind, out)

    def _problem_headers(self, h):
        nonce = self._fresh_nonce(h)
        return [("Content-Type", "application/problem+json")] + (
            [("Replay-Nonce", nonce)] if nonce else [])

    def _fresh_nonce(self, h):
        try:
            _, hh, _ = self._upstream("HEAD", self.new_nonce_path, self._host(h), timeout=5)
        except (OSError, http.client.HTTPException, ssl.SSLError):
            return None
        return next((v for k, v in hh if k.lower() == "replay-nonce"), None)

    def _issuer(self, h, path):
        rest = self._issuers.get(path.rsplit("/", 1)[-1])
        if rest is None:
            return 404, [("Content-Type", "application/problem+json")], self._problem(
                404, "urn:ietf:params:acme:error:malformed", "test-only proxy: no such issuer")
        hdrs = [("Content-Type", PEM_CHAIN)]
        nonce = self._fresh_nonce(h)
        if nonce:
            hdrs.append(("Replay-Nonce", nonce))
        return 200, hdrs, rest

    @staticmethod
    def _reset(h):
        h.close_connection = True
        try:
            h.rfile.close()
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()   # RST: linger 0
        except OSError:
            pass

    @staticmethod
    def _truncated(h, status, headers, out):
        h.close_connection = True
        try:
            h.send_response(status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(out)))
            h.end_headers()
            h.wfile.write(out[:len(out) // 2])
            h.wfile.flush()
            h.connection.settimeout(2)
            h.connection.unwrap()   # close_notify: a clean end, before the announced one
        except (OSError, ssl.SSLError, ValueError):
            pass

    @staticmethod
    def _huge(h, size=5 * 1024 * 1024):
        h.close_connection = True
        chunk = b" " * 65536
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(size))
            h.end_headers()
            h.wfile.write(b"{\"status\": \"valid\", \"padding\": \"")
            for _ in range(size // len(chunk)):
                h.wfile.write(chunk)
            h.wfile.flush()
        except (OSError, ssl.SSLError, ValueError):
            pass

    def _problem(self, status, ptype, detail):
        return json.dumps({"type": ptype, "detail": detail, "status": status}).encode()

    def _upstream(self, method, path, host, body=b"", headers=None, timeout=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.upstream_port,
                                           context=self._client_ctx,
                                           timeout=timeout or self.upstream_timeout)
        try:
            hdrs = dict(headers or {})
            hdrs["Host"] = host
            if not any(k.lower() == "user-agent" for k in hdrs):
                hdrs["User-Agent"] = MINI_UA
            conn.request(method, path, body=body if method in ("POST", "PUT") else None,
                         headers=hdrs)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def _injected(self, h, inj):
        headers = [("Content-Type", "application/problem+json"),
                   ("Cache-Control", "no-store"),
                   ("Link", '<%s>;rel="index"' % ("https://%s/dir" % self._host(h)))]
        if inj.retry_after is not None:
            headers.append(("Retry-After", str(int(inj.retry_after))))
        # a fresh nonce, as a real CA sends with every error (best effort)
        try:
            st, hh, _ = self._upstream("HEAD", self.new_nonce_path, self._host(h), timeout=5)
            for k, v in hh:
                if k.lower() == "replay-nonce":
                    headers.append(("Replay-Nonce", v))
        except (OSError, http.client.HTTPException, ssl.SSLError):
            pass
        return inj.status, headers, self._problem(inj.status, inj.problem_type, inj.detail)

    def _host(self, h):
        return h.headers.get("Host") or "127.0.0.1:%d" % self.port

    def _renewal_info(self, h, path):
        if h.command not in ("GET", "HEAD"):
            return 405, [("Content-Type", "application/problem+json"), ("Allow", "GET")], \
                self._problem(405, "urn:ietf:params:acme:error:malformed",
                              "renewalInfo takes GET")
        cert_id = path[len("/renewalInfo/"):].split("?")[0] if path.startswith(
            "/renewalInfo/") else ""
        if not re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", cert_id):
            return 400, [("Content-Type", "application/problem+json")], self._problem(
                400, "urn:ietf:params:acme:error:malformed",
                "test-only proxy: %r is not a certID (base64url(AKI) '.' base64url(serial))"
                % cert_id)
        fn = self.ari_window_fn
        window = fn(cert_id) if fn else None
        if window is None:
            window = self.ari_window
        doc = {"suggestedWindow": {"start": rfc3339(window[0]), "end": rfc3339(window[1])}}
        if self.ari_explanation_url:
            doc["explanationURL"] = self.ari_explanation_url
        headers = [("Content-Type", "application/json")]
        if self.ari_retry_after is not None:
            headers.append(("Retry-After", str(int(self.ari_retry_after))))
        return 200, headers, json.dumps(doc).encode()

    def _forward(self, h, body):
        fwd = {k: v for k, v in h.headers.items()
               if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        status, headers, out = self._upstream(h.command, h.path, self._host(h), body, fwd)
        ctype = ""
        for k, v in headers:
            if k.lower() == "content-type":
                ctype = v
        if h.command == "GET" and status == 200 and "json" in ctype:
            try:
                doc = json.loads(out)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "newOrder" in doc and "newNonce" in doc:
                self._learn_directory(doc)
                if self.ari:
                    doc["renewalInfo"] = "https://%s/renewalInfo" % self._host(h)
                else:
                    doc.pop("renewalInfo", None)
                out = json.dumps(doc, indent=2).encode()
        return status, [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP], out

    def _learn_directory(self, doc):
        for key, attr in (("newOrder", "new_order_path"), ("newNonce", "new_nonce_path")):
            m = re.match(r"^https?://[^/]+(/.*)$", doc.get(key, ""))
            if m:
                setattr(self, attr, m.group(1))


# ---------------------------------------------------------------------------------------------
# certID (RFC 9773) of a certificate, for the tests

def cert_id(pem):
    """base64url(AKI keyIdentifier) "." base64url(DER serial content octets) of a PEM cert."""
    from cryptography import x509  # Debian's python3-cryptography

    c = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    n = c.serial_number
    raw = n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")
    if raw[0] & 0x80:
        raw = b"\x00" + raw  # DER INTEGER: two's complement, positive
    return b64u(aki) + "." + b64u(raw)


# ---------------------------------------------------------------------------------------------
# self-check: the proxy against a real pebble, without mod_acme

class _MiniClient:
    """A minimal ACME client (ES256) for the self-check: account, order, nothing more."""

    def __init__(self, directory_url, ca_file):
        from cryptography.hazmat.primitives.asymmetric import ec
        self.ctx = ssl.create_default_context(cafile=ca_file)
        m = re.match(r"https://([^/]+)(/.*)", directory_url)
        self.hostport, self.dir_path = m.group(1), m.group(2)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = None
        self.nonce = None
        self.directory = self.get(self.dir_path)[2]

    def _conn(self):
        host, port = self.hostport.rsplit(":", 1)
        return http.client.HTTPSConnection(host, int(port), context=self.ctx, timeout=10)

    def get(self, path, method="GET"):
        c = self._conn()
        try:
            c.request(method, path, headers={"User-Agent": MINI_UA})
            r = c.getresponse()
            body = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if "replay-nonce" in hdrs:
                self.nonce = hdrs["replay-nonce"]
            return r.status, hdrs, (json.loads(body) if body and "json" in hdrs.get(
                "content-type", "") else body)
        finally:
            c.close()

    def _jwk(self):
        nums = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
                "y": b64u(nums.y.to_bytes(32, "big"))}

    def post(self, url, payload):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        if self.nonce is None:
            self.get(re.sub(r"^https://[^/]+", "", self.directory["newNonce"]), "HEAD")
        prot = {"alg": "ES256", "nonce": self.nonce, "url": url}
        if self.kid:
            prot["kid"] = self.kid
        else:
            prot["jwk"] = self._jwk()
        p64 = b64u(json.dumps(prot).encode())
        y64 = "" if payload is None else b64u(json.dumps(payload).encode())
        der = self.key.sign(("%s.%s" % (p64, y64)).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        body = json.dumps({"protected": p64, "payload": y64, "signature": sig}).encode()
        c = self._conn()
        try:
            c.request("POST", re.sub(r"^https://[^/]+", "", url), body=body,
                      headers={"Content-Type": "application/jose+json",
                               "User-Agent": MINI_UA})
            resp = c.getresponse()
            out = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            self.nonce = hdrs.get("replay-nonce")
            return resp.status, hdrs, (json.loads(out) if out else None)
        finally:
            c.close()


def selfcheck():
    import harness
    work = harness.make_tempdir("acme-proxy-selfcheck-")
    servers = []
    proxy = None
    try:
        http_port, https_port = harness.free_port(), harness.free_port()
        cts = harness.ChallTestSrv(os.path.join(work, "cts")).start()
        servers.append(cts)
        peb = harness.Pebble(os.path.join(work, "pebble"), cts.dns_port, http_port,
                             https_port).start()
        servers.append(peb)
        proxy = AcmeProxy(peb).start()

        # 1. the directory through the proxy: pebble's URLs name the proxy (Host preserved)
        cl = _MiniClient(proxy.directory_url, peb.ca_file)
        d = cl.directory
        harness.log("directory via proxy: %s" % json.dumps(d))
        for k in ("newNonce", "newAccount", "newOrder"):
            assert d[k].startswith(proxy.base_url + "/"), (k, d[k])
        assert d["renewalInfo"] == proxy.renewal_info_url, d
        direct = peb.directory()
        # pebble 2.4 has no renewalInfo; 2.10's own is replaced by the proxy's (above)
        assert ("renewalInfo" in direct) == harness.pebble_is_210() and direct[
            "newOrder"].startswith("https://127.0.0.1:%d/" % peb.port), direct

        # 2. signed requests through the proxy verify at pebble (JWS url == proxy URL)
        st, hdrs, acct = cl.post(d["newAccount"], {"termsOfServiceAgreed": True})
        assert st == 201, (st, acct)
        cl.kid = hdrs["location"]
        assert cl.kid.startswith(proxy.base_url + "/"), cl.kid
        st, hdrs, order = cl.post(d["newOrder"], {"identifiers": [
            {"type": "dns", "value": "px.mod-acme.test"}], "replaces": "abc.def"})
        rec = proxy.new_orders()[-1]
        assert rec.payload["replaces"] == "abc.def", rec
        if harness.pebble_is_210():
            # pebble 2.10 checks "replaces": a made-up certID is malformed; order without it
            assert st == 400 and "CertID" in order.get("detail", ""), (st, order)
            st, hdrs, order = cl.post(d["newOrder"], {"identifiers": [
                {"type": "dns", "value": "px.mod-acme.test"}]})
            rec = proxy.new_orders()[-1]
        # pebble 2.4 does not know "replaces" and ignores unknown fields
        assert st == 201, (st, order)
        assert hdrs["location"].startswith(proxy.base_url + "/"), hdrs
        assert order["finalize"].startswith(proxy.base_url + "/"), order
        assert rec.payload["identifiers"][0]["value"] == "px.mod-acme.test", rec.payload
        assert rec.status == 201, rec
        assert rec.protected["url"] == d["newOrder"], rec.protected
        harness.log("newAccount/newOrder via proxy: %d requests recorded, pebble log has %d "
                    "POST /order-plz" % (len(proxy.requests()), peb.orders()))
        # the JWS url is checked by pebble against the Host it sees: a Host pebble does not
        # expect makes it reject the request (so Host preservation is what makes it work)
        prot_url = proxy.base_url + "/order-plz"
        bad = _MiniClient.__new__(_MiniClient)
        bad.__dict__.update(cl.__dict__)
        st, _, prob = bad.post(prot_url.replace(str(proxy.port), str(proxy.port + 1)),
                               {"identifiers": [{"type": "dns", "value": "x.mod-acme.test"}]})
        assert st >= 400 and "url" in json.dumps(prob).lower(), (st, prob)
        harness.log("JWS url naming another host:port -> %d %s" % (st, prob.get("detail")))

        # 3. injected 429 on newOrder, for the next request only
        inj = proxy.inject(r"^/order-plz$", method="POST", retry_after=20, count=1)
        st, hdrs, prob = cl.post(d["newOrder"], {"identifiers": [
            {"type": "dns", "value": "px2.mod-acme.test"}]})
        assert st == 429 and hdrs.get("retry-after") == "20", (st, hdrs)
        assert prob["type"] == RATE_LIMITED and hdrs.get("replay-nonce"), (prob, hdrs)
        st, _, _ = cl.post(d["newOrder"], {"identifiers": [
            {"type": "dns", "value": "px2.mod-acme.test"}]})
        assert st == 201 and inj.hits == 1, st
        # time-limited injection
        proxy.inject(r"^/order-plz$", method="POST", retry_after=1, until=time.time() + 1.5)
        st1 = cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "a.test"}]})[0]
        time.sleep(1.6)
        st2 = cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "a.test"}]})[0]
        assert (st1, st2) == (429, 201), (st1, st2)
        proxy.clear_injections()
        proxy.inject(r"^/order-plz$", method="POST", identifier="only.test")
        st1 = cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "b.test"}]})[0]
        st2 = cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "only.test"}]})[0]
        assert (st1, st2) == (201, 429), (st1, st2)
        proxy.clear_injections()
        harness.log("injection: 429 + Retry-After + rateLimited + nonce, then forwarded")

        # 4. renewalInfo answered by the proxy
        now = time.time()
        proxy.ari_window = (now - 7200, now - 3600)
        proxy.ari_retry_after = 2
        proxy.ari_explanation_url = "https://ca.mod-acme.test/explain"
        st, hdrs, doc = cl.get("/renewalInfo/AAEC.AQ")
        assert st == 200 and hdrs["retry-after"] == "2", (st, hdrs)
        assert doc["suggestedWindow"]["start"] == rfc3339(now - 7200), doc
        assert doc["explanationURL"] == "https://ca.mod-acme.test/explain", doc
        assert cl.get("/renewalInfo/garbage")[0] == 400
        assert len(proxy.renewal_info_requests()) == 2
        proxy.ari = False
        assert "renewalInfo" not in _MiniClient(proxy.directory_url, peb.ca_file).directory
        proxy.ari = True
        harness.log("renewalInfo: %s" % json.dumps(doc))

        # 5. stop/start on the same port: unreachable while stopped
        proxy.stop()
        assert not harness.port_accepts(proxy.port)
        proxy.start()
        assert _MiniClient(proxy.directory_url, peb.ca_file).directory["renewalInfo"]
        # upstream down -> 502 from the proxy
        peb.stop()
        assert _MiniClient.__new__(_MiniClient) is not None
        c2 = _MiniClient.__new__(_MiniClient)
        c2.ctx = ssl.create_default_context(cafile=peb.ca_file)
        c2.hostport, c2.nonce = "127.0.0.1:%d" % proxy.port, None
        assert c2.get("/dir")[0] == 502
        peb.start()
        harness.log("stop/start of the proxy and of pebble behind it: OK")

        # 6. a real ACME client with ARI through the proxy: Debian's mod_md
        _mdcheck_via_proxy(work, cts, peb, proxy, http_port, https_port)
        print("acme_proxy selfcheck OK", flush=True)
        return 0
    finally:
        if proxy is not None:
            proxy.stop()
        for s in reversed(servers):
            s.stop()
        if not os.environ.get("ACME_KEEP"):
            import shutil
            shutil.rmtree(work, ignore_errors=True)


def _mdcheck_via_proxy(work, cts, peb, proxy, http_port, https_port):
    """mod_md obtains a certificate through the proxy; then (ARI window in the past) it fetches
    renewalInfo for it with the certID we compute, and renews with "replaces" == that certID."""
    import harness
    name = "mdproxy.mod-acme.test"
    now = time.time()
    proxy.ari_window = (now + 30 * 86400, now + 31 * 86400)
    proxy.ari_retry_after = 3600
    proxy.ari_explanation_url = None
    mark = proxy.mark()
    md = ["LoadModule md_module %s/mod_md.so" % harness.APACHE_MODDIR,
          "MDCertificateAuthority %s" % proxy.directory_url,
          'MDCACertificateFile "%s"' % peb.ca_file,
          "MDCertificateAgreement accepted", "MDContactEmail %s" % harness.CONTACT,
          "MDPortMap http:%d https:%d" % (http_port, https_port),
          "MDCAChallenges http-01", "MDomain %s" % name, "MDRenewViaARI on"]
    httpd = harness.Httpd(os.path.join(work, "httpd-md"), http_port, https_port,
                          load_acme=False, global_lines=md, vhosts=[
                              harness.VHost(name),
                              harness.VHost(name, ssl=False)])
    try:
        httpd.start()
        httpd.wait_for(lambda: "AH10059" in httpd.error_log(), 60,
                       what="mod_md: certificate set up (AH10059) via proxy")
        orders = proxy.new_orders(since=mark)
        assert len(orders) == 1 and "replaces" not in orders[0].payload, orders
        harness.log("mod_md: first order via proxy, payload %s" % json.dumps(orders[0].payload))
        httpd.graceful()
        cert, _ = httpd.wait_for_cert(name, peb, timeout=30)
        cid = cert_id(cert.pem)
        harness.log("mod_md certificate serial %s, certID %s" % (cert.serial, cid))
        # mod_md looks at ARI when it checks renewal (at start of a generation and periodically)
        proxy.ari_window = (now - 7200, now - 3600)
        mark2 = proxy.mark()
        httpd.graceful()

        def renewed():
            o = proxy.new_orders(since=mark2)
            return o if o else None
        try:
            o = httpd.wait_for(renewed, 60, what="mod_md renewal via ARI")
        except (TimeoutError, harness.HarnessError) as exc:
            ari = proxy.renewal_info_requests(since=mark)
            raise AssertionError("mod_md did not renew via ARI (%d renewalInfo requests: %r)\n%s"
                                 % (len(ari), [r.path for r in ari], exc))
        ari = proxy.renewal_info_requests(since=mark)
        harness.log("mod_md renewalInfo requests: %r" % [r.path for r in ari])
        assert any(r.path == "/renewalInfo/" + cid for r in ari), (cid, [r.path for r in ari])
        harness.log("mod_md renewal newOrder payload: %s" % json.dumps(o[0].payload))
        assert o[0].payload.get("replaces") == cid, (o[0].payload, cid)
        harness.log("mod_md via proxy: ARI certID and replaces agree with cert_id()")
    finally:
        httpd.stop()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) != 2 or sys.argv[1] != "selfcheck":
        print("usage: %s selfcheck" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(selfcheck())
