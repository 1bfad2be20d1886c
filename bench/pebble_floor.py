#!/usr/bin/python3
"""The floor for issuance: how long pebble itself needs for N certificates.

A minimal ACME client (threads, python3-cryptography) that sends, per certificate, the same
request sequence as mod_acme: newNonce only when it holds none, newAccount once, then per
certificate newOrder, authorization POST-as-GET, challenge POST (http-01, answered by a small
threaded http server on the port pebble validates against), authorization polls, finalize
(one P-256 key and CSR per certificate), order polls, certificate download. Polls follow
Retry-After when the CA sends one, else a back-off that starts at 20 ms. It uses one
keep-alive connection per thread and keeps each response's Replay-Nonce.

    sudo /usr/bin/python3 bench/pebble_floor.py --n 1000             # fresh pebble, 64 threads
    sudo /usr/bin/python3 bench/pebble_floor.py --n 2 --runs 1       # smoke test

Reported: time from the first request to the last certificate downloaded (`floor_s`),
requests per certificate, CPU of pebble and of this client. bench/startup.py runs the same
client as the "floor" column of its issuance rows. Not a test: nothing is judged.
"""

import argparse
import base64
import hashlib
import http.client
import http.server
import json
import queue
import resource
import shlex
import signal
import ssl
import sys
import threading
import time

import benchlib
from benchlib import BenchError, out
import harness

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

UA = "mod_acme-bench-floor"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Account:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64(nums.x.to_bytes(32, "big")),
                    "y": b64(nums.y.to_bytes(32, "big"))}
        canon = json.dumps(self.jwk, sort_keys=True, separators=(",", ":"))
        self.thumbprint = b64(hashlib.sha256(canon.encode()).digest())
        self.kid = None

    def jws(self, url, nonce, payload):
        prot = {"alg": "ES256", "nonce": nonce, "url": url}
        if self.kid:
            prot["kid"] = self.kid
        else:
            prot["jwk"] = self.jwk
        p64 = b64(json.dumps(prot))
        pl64 = "" if payload is None else b64(json.dumps(payload))
        der = self.key.sign(("%s.%s" % (p64, pl64)).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return json.dumps({"protected": p64, "payload": pl64, "signature": sig})


class Conn:
    """One keep-alive connection to the CA and the nonce its last response carried."""

    def __init__(self, client):
        self.c, self.http, self.nonce = client, None, None

    def request(self, method, url, body=None):
        path = url.split("/", 3)[3] if url.startswith("https://") else url
        for attempt in range(3):
            if self.http is None:
                self.http = http.client.HTTPSConnection("127.0.0.1", self.c.port,
                                                        context=self.c.ctx, timeout=30)
            try:
                hdrs = {"User-Agent": UA}
                if body is not None:
                    hdrs["Content-Type"] = "application/jose+json"
                self.http.request(method, "/" + path, body=body, headers=hdrs)
                r = self.http.getresponse()
                data = r.read()
                self.c.count()
                nonce = r.getheader("Replay-Nonce")
                if nonce:
                    self.nonce = nonce
                return r, data
            except (OSError, http.client.HTTPException):
                self.http.close()
                self.http = None
                if attempt == 2:
                    raise
        raise BenchError("unreachable")

    def post(self, url, payload, want=(200, 201)):
        """Signed POST (payload None: POST-as-GET); a fresh nonce only when none is held;
        badNonce retried."""
        for _ in range(5):
            if not self.nonce:
                self.request("HEAD", self.c.dir["newNonce"])
            nonce, self.nonce = self.nonce, None
            r, data = self.request("POST", url, self.c.account.jws(url, nonce, payload))
            if r.status in want:
                return r, data
            if r.status == 400 and b"badNonce" in data:
                continue
            raise BenchError("POST %s: %d %s" % (url, r.status, data[:300]))
        raise BenchError("POST %s: badNonce 5 times" % url)

    def poll(self, url, done, deadline):
        """POST-as-GET url until done(json) (Retry-After, else 20 ms doubling to 1 s)."""
        delay = 0.02
        while True:
            r, data = self.post(url, None)
            j = json.loads(data)
            if done(j):
                return j
            if j.get("status") == "invalid":
                raise BenchError("%s invalid: %s" % (url, data[:400]))
            if time.monotonic() > deadline:
                raise BenchError("polling %s: time limit" % url)
            ra = r.getheader("Retry-After")
            try:
                wait = float(ra) if ra else delay
            except ValueError:
                wait = delay
            time.sleep(min(max(wait, 0.0), 5.0))
            delay = min(delay * 2, 1.0)


class Challenges(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024     # pebble validates from 3 perspectives per challenge


class ChallengeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"    # one request a connection: no idle keep-alive threads

    def do_GET(self):
        prefix = harness.CHALLENGE_PREFIX
        ka = None
        if self.path.startswith(prefix):
            ka = self.server.answers.get(self.path[len(prefix):])
        body = (ka or "not found").encode()
        self.send_response(200 if ka else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Client:
    def __init__(self, directory_url, ca_file, http_port):
        self.port = int(directory_url.split(":")[2].split("/")[0])
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.ctx.check_hostname = False
        self.requests = 0
        self.lock = threading.Lock()
        # pebble (2.4 and 2.10) deadlocks, all its handlers blocked, when newOrder and
        # finalize requests run at once (seen with 16 and 64 threads): one of them at a time
        self.finalize_lock = threading.Lock()
        self.account = Account()
        self.http_port = http_port
        conn = Conn(self)
        r, data = conn.request("GET", directory_url)
        self.dir = json.loads(data)

    def count(self):
        with self.lock:
            self.requests += 1

    def new_account(self, conn):
        r, _ = conn.post(self.dir["newAccount"], {"termsOfServiceAgreed": True,
                                                  "contact": ["mailto:" + harness.CONTACT]})
        self.account.kid = r.getheader("Location")

    def one(self, conn, name, answers, deadline):
        with self.finalize_lock:
            r, data = conn.post(self.dir["newOrder"],
                                {"identifiers": [{"type": "dns", "value": name}]}, want=(201,))
        order_url, order = r.getheader("Location"), json.loads(data)
        for az in order["authorizations"]:
            _, data = conn.post(az, None)
            a = json.loads(data)
            if a["status"] == "valid":
                continue
            ch = [c for c in a["challenges"] if c["type"] == "http-01"][0]
            answers[ch["token"]] = ch["token"] + "." + self.account.thumbprint
            conn.post(ch["url"], {})
            conn.poll(az, lambda j: j.get("status") == "valid", deadline)
            answers.pop(ch["token"], None)
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
               .sign(key, hashes.SHA256()))
        with self.finalize_lock:
            _, data = conn.post(order["finalize"],
                                {"csr": b64(csr.public_bytes(serialization.Encoding.DER))})
        o = json.loads(data)
        if o.get("status") != "valid":
            o = conn.poll(order_url, lambda j: j.get("status") == "valid", deadline)
        _, pem = conn.post(o["certificate"], None)
        if b"BEGIN CERTIFICATE" not in pem:
            raise BenchError("no certificate for %s" % name)


def issue(directory_url, ca_file, http_port, name_list, threads=64, timeout=600):
    """Obtain a certificate for every name; returns {floor_s, requests, errors}."""
    deadline = time.monotonic() + timeout
    srv = Challenges(("127.0.0.1", http_port), ChallengeHandler)
    srv.answers = {}
    srv_thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                  daemon=True)
    srv_thread.start()
    try:
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        client = Client(directory_url, ca_file, http_port)
        client.new_account(Conn(client))
        work = queue.Queue()
        for nm in name_list:
            work.put(nm)
        errors = []

        def worker():
            conn = Conn(client)
            while time.monotonic() < deadline:
                try:
                    nm = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    client.one(conn, nm, srv.answers, deadline)
                except Exception as exc:  # noqa: BLE001
                    errors.append("%s: %s" % (nm, exc))
        ts = [threading.Thread(target=worker, daemon=True)
              for _ in range(max(1, min(threads, len(name_list))))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(max(0.0, deadline - time.monotonic()) + 5)
        elapsed = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        if any(t.is_alive() for t in ts) or not work.empty():
            errors.append("time limit (%d s) reached" % timeout)
        return {"floor_s": elapsed, "requests": client.requests,
                "cpu_client_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
                "errors": errors}
    finally:
        srv.shutdown()
        srv.server_close()


def one_run(n, threads, timeout, workdir=None, keep=False):
    """A fresh challtestsrv + pebble (the harness's configuration), N certificates."""
    work = harness.make_tempdir("acme-bench-floor-%d-" % n) if workdir is None else workdir
    cts = peb = None
    res = {"module": "floor", "n": n, "work": work}
    ok = False
    try:
        http_port, https_port, cts, peb = benchlib.start_ca(work)
        res["command"] = "%s %s" % (" ".join("%s=%s" % (k, peb.env[k])
                                             for k in sorted(harness.DEFAULT_PEBBLE_ENV)),
                                    " ".join(shlex.quote(a) for a in peb.proc.argv))
        mark = peb.mark()
        cpu_peb0 = benchlib.cpu_seconds(peb.proc.pid) or 0.0
        r = issue(peb.directory_url, peb.ca_file, http_port, benchlib.names(n), threads, timeout)
        res["cpu_pebble_s"] = (benchlib.cpu_seconds(peb.proc.pid) or 0.0) - cpu_peb0
        res["staged_s"] = r["floor_s"]
        res["cpu_client_s"] = r["cpu_client_s"]
        res["acme_requests"] = peb.count(benchlib.HANDLER_RX, mark)
        res["req_per_cert"] = res["acme_requests"] / float(n)
        if r["errors"]:
            raise BenchError("%d certificate(s) failed; first: %s" % (len(r["errors"]),
                                                                      r["errors"][0]))
        ok = True
        return res
    except Exception as exc:  # noqa: BLE001
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        return res
    finally:
        benchlib.stop_servers((peb, cts), work if workdir is None else None, ok, keep)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1000", help="certificate counts, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=64, help="orders in flight (default 64)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv[1:])
    ns = [int(x) for x in args.n.split(",") if x.strip()]

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    out("# pebble floor, %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    out("# %s" % benchlib.machine_facts())
    out("# command: %s" % " ".join(shlex.quote(a) for a in argv))
    failed = 0
    rows = ["| N | time for N (s) | requests / certificate | pebble CPU (s) | client CPU (s) |",
            "|---|---|---|---|---|"]
    try:
        for n in ns:
            rs = []
            for i in range(args.runs):
                r = one_run(n, args.threads, args.timeout, None, args.keep)
                out("   " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                        for k, v in r.items() if k != "work"}))
                if "error" in r:
                    failed += 1
                else:
                    rs.append(r)
            cells = [benchlib.summary([r[k] for r in rs], u)[1]
                     for k, u in (("staged_s", "s"), ("req_per_cert", ""),
                                  ("cpu_pebble_s", "s"), ("cpu_client_s", "s"))]
            rows.append("| %d | %s |" % (n, " | ".join(cells)))
    except KeyboardInterrupt:
        out("interrupted: partial results")
        failed += 1
    out("")
    out("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
