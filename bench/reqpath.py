#!/usr/bin/python3
"""Benchmark: what mod_acme costs on the request path, in instructions, under callgrind.

The same httpd (event MPM, single process: -X) with N vhosts, each on the http port and on
the https port with its own certificate, is run twice under valgrind --tool=callgrind:

  static   no mod_acme; each https vhost has SSLCertificateFile/SSLCertificateKeyFile
  acme     mod_acme loaded, "ACME on": every https vhost is a managed certificate whose
           live set is in the store (the same certificate and key files)

The certificates come from a throw-away CA made here with openssl (no ACME CA is needed:
the store is written as activation leaves it, live/<id>/ with chain.pem, key.pem and
meta.json, so nothing is due and the module serves the live sets). ACMEServer names a
closed port: whatever the module's worker tries in the background fails at once, and
is not counted anyway (below).

Only instructions executed inside ap_run_process_connection (callgrind
--collect-atstart=no --toggle-collect=ap_run_process_connection) are counted: reading
and parsing the request, post_read_request (where mod_acme's responder runs), the
handlers, the response, and for https the TLS handshake and record layer. Start-up, the
MPM's listener, and mod_acme's background threads are not. Each phase sends R requests
from this script (over one keep-alive connection unless said otherwise) to a server started
for that phase alone, so each phase's count is its own (the first request's one-time costs
are in it, spread over R):

  http_static    GET /static.txt over http, Host rotating over all N vhosts
  https_static   GET /static.txt over https to one vhost (SNI and Host: that vhost)
  http_unknown   GET /.well-known/acme-challenge/<unknown 43-character token> over http,
                 a connection each (mod_acme answers 404 in post_read_request, and httpd
                 closes a connection after any answer given there; static: 404 from the
                 core, the same one connection a request for equal work)

Per phase the table gives instructions per request (the phase's total / R) for both
runs and the overhead of mod_acme, (acme - static) / static. Every response is checked
(status, body); a wrong answer fails the run (exit code 1). Nothing here asserts speed.

    sudo /usr/bin/python3 bench/reqpath.py                          # N=1000, R=2000 (~15 min)
    sudo /usr/bin/python3 bench/reqpath.py --vhosts 2 --requests 50 # tiny: CI (~1 min)

Every server listens on 127.0.0.1 high ports, runs in its own process group and is
stopped by its PID whatever the outcome; every wait is bounded.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import harness  # noqa: E402

DOMAIN = "reqpath.mod-acme.test"
STATIC_PATH = "/static.txt"
STATIC_BODY = b"a static file served by the core\n" * 32        # 1 KiB
UNKNOWN_TOKEN = "Unknown_token-" + "x" * 29                      # 43 characters, base64url
PHASES = ("http_static", "https_static", "http_unknown")
VARIANTS = ("static", "acme")
SERIAL_BASE = 0x10000000    # 8 hex digits: meta.json's serial is BN_bn2hex's text
MODULES = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("ssl_module", "mod_ssl.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
]


class BenchError(Exception):
    pass


def note(msg):
    print("[reqpath %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def names(n):
    return ["v%04d.%s" % (i, DOMAIN) for i in range(1, n + 1)]


def run(argv, timeout=60):
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=timeout, check=False)
    if res.returncode != 0:
        raise BenchError("%s failed (%d):\n%s" % (" ".join(argv), res.returncode,
                                                   res.stdout.decode(errors="replace")))
    return res.stdout


# ---------------------------------------------------------------------------------------------
# certificates and the store

def make_certs(work, hosts):
    """A throw-away CA and one P-256 leaf per host (one key shared by all leaves: the
    request path does not care). Returns {host: (chain_pem_path, key_path, serial_hex)}."""
    d = os.path.join(work, "certs")
    os.makedirs(d)
    ca_key, ca_pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key = os.path.join(d, "leaf.key")
    ossl = harness.OPENSSL
    run([ossl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", ca_key])
    run([ossl, "req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=reqpath bench CA",
         "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", ca_pem])
    run([ossl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", key])
    os.chmod(ca_pem, 0o644)     # ACMEServerCAFile: the User reads it
    with open(ca_pem) as f:
        ca_text = f.read()
    out = {}
    for i, host in enumerate(hosts):
        leaf = os.path.join(d, "%s.leaf.pem" % host)
        serial = "%X" % (SERIAL_BASE + i)
        run([ossl, "req", "-x509", "-new", "-key", key, "-CA", ca_pem, "-CAkey", ca_key,
             "-subj", "/CN=%s" % host, "-days", "20", "-set_serial", "0x" + serial,
             "-addext", "subjectAltName=DNS:%s" % host,
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "extendedKeyUsage=serverAuth", "-out", leaf])
        chain = os.path.join(d, "%s.chain.pem" % host)
        with open(leaf) as f, open(chain, "w") as c:
            c.write(f.read() + ca_text)
        out[host] = (chain, key, serial)
    return ca_pem, out


def rfc3339(openssl_time):
    """'Nov 30 10:00:00 2026 GMT' (Python's decoded certificate) -> '2026-11-30T10:00:00Z'."""
    t = time.strptime(openssl_time, "%b %d %H:%M:%S %Y %Z")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def write_store(store, certs, ca_url):
    """live/<id>/ as activation leaves it (root, 0700/0600), meta.json matching each
    certificate so that start-up neither rebuilds it nor plans an order."""
    live = os.path.join(store, "live")
    os.makedirs(live, mode=0o700)
    os.chmod(store, 0o755)
    for host, (chain, key, serial) in certs.items():
        d = os.path.join(live, host)
        os.mkdir(d, 0o700)
        dec = ssl._ssl._test_decode_cert(chain)  # the first certificate: the leaf
        if dec.get("serialNumber", "").lstrip("0") != serial.lstrip("0"):
            raise BenchError("serial of %s: %r, expected %s" % (host, dec.get("serialNumber"),
                                                                serial))
        meta = {"v": 1, "names": [host], "ca": ca_url, "key": "p256", "serial": serial,
                "not_before": rfc3339(dec["notBefore"]), "not_after": rfc3339(dec["notAfter"])}
        for name, src, text in (("chain.pem", chain, None), ("key.pem", key, None),
                                ("meta.json", None, json.dumps(meta, sort_keys=True))):
            path = os.path.join(d, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                if src:
                    with open(src) as s:
                        f.write(s.read())
                else:
                    f.write(text)


# ---------------------------------------------------------------------------------------------
# httpd

def write_conf(root, variant, hosts, certs, http_port, https_port, ca_pem, ca_url):
    mods = harness.APACHE_MODDIR
    docroot = os.path.join(root, "htdocs")
    for d in ("conf", "logs", "run", "htdocs"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(root, 0o755)
    with open(os.path.join(docroot, STATIC_PATH.lstrip("/")), "wb") as f:
        f.write(STATIC_BODY)
    lines = [
        "# generated by bench/reqpath.py (%s)" % variant,
        'ServerRoot "%s"' % root,
        'DefaultRuntimeDir "%s/run"' % root,
        'PidFile "%s/run/httpd.pid"' % root,
        "Mutex file:%s/run default" % root,
        "ServerName 127.0.0.1",
    ]
    lines += ["LoadModule %s %s/%s" % (n, mods, f) for n, f in MODULES]
    if variant == "acme":
        lines.append("LoadModule acme_module %s" % harness.module_path())
    lines += [
        "User %s" % harness.HTTPD_USER,
        "Group %s" % harness.HTTPD_GROUP,
        'ErrorLog "%s/logs/error.log"' % root,
        "LogLevel warn",
        "Listen 127.0.0.1:%d" % http_port,
        "Listen 127.0.0.1:%d https" % https_port,
        "TypesConfig /etc/mime.types",
        "KeepAliveTimeout 60",
        "MaxKeepAliveRequests 0",
        'SSLSessionCache "shmcb:%s/run/ssl_scache(512000)"' % root,
        'DocumentRoot "%s"' % docroot,
        "<Directory />",
        "    AllowOverride None",
        "    Require all denied",
        "</Directory>",
        '<Directory "%s">' % docroot,
        "    Require all granted",
        "</Directory>",
    ]
    if variant == "acme":
        lines += [
            "ACMEServer %s" % ca_url,
            "ACMEServerCAFile %s" % ca_pem,
            "ACMEAgreeTerms on",
            "ACME on",
        ]
    for host in hosts:
        lines += ["<VirtualHost 127.0.0.1:%d>" % http_port, "    ServerName %s" % host,
                  "</VirtualHost>",
                  "<VirtualHost 127.0.0.1:%d>" % https_port, "    ServerName %s" % host,
                  "    SSLEngine on"]
        if variant == "static":
            chain, key, _ = certs[host]
            lines += ["    SSLCertificateFile %s" % chain, "    SSLCertificateKeyFile %s" % key]
        lines.append("</VirtualHost>")
    conf = os.path.join(root, "conf", "httpd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    return conf


def callgrind_totals(path):
    """The instruction count of one callgrind output file (its 'totals:' or 'summary:')."""
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise BenchError("no totals in %s" % path)


def module_cost(path, needle="mod_acme"):
    """Instructions spent inside the module: the inclusive cost of every call from another
    object into an object whose name contains needle (its hooks and whatever they call),
    read from a callgrind output file (name compression "(id) name", positions: line)."""
    names = {"ob": {}, "fn": {}}
    ob = cob = None
    into = False
    total = 0

    def name(kind, value):
        value = value.strip()
        if value.startswith("("):
            ident, _, rest = value.partition(")")
            rest = rest.strip()
            if rest:
                names[kind][ident] = rest
            return names[kind].get(ident, ident)
        return value
    with open(path, errors="replace") as f:
        pending_call = False
        for line in f:
            if pending_call:
                pending_call = False
                if into:
                    total += int(line.split()[1])
                cob = None
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("cob="):
                cob = name("ob", line[4:])
            elif line.startswith(("fn=", "cfn=")):
                name("fn", line.split("=", 1)[1])
            elif line.startswith("calls="):
                callee = cob if cob is not None else ob
                into = bool(callee and needle in callee and not (ob and needle in ob))
                pending_call = True
    return total


class Server:
    """apache2 -X under callgrind (or plain, valgrind=False), in its own process group.

    httpd switches to its User right after start-up, and callgrind writes its counts when
    the process ends, as that User: the output file (created at start, as root) is given
    to the User once httpd serves."""

    def __init__(self, root, conf, valgrind, out_dir, label, ready_host):
        self.root, self.valgrind, self.ready_host = root, valgrind, ready_host
        self.out_dir, self.label = out_dir, label
        argv = [harness.APACHE2, "-d", root, "-f", conf, "-X"]
        if valgrind:
            # %p: a process httpd forks writes its own file (the server's: out_file)
            argv = ["valgrind", "--tool=callgrind", "--vgdb=no", "--collect-atstart=no",
                    "--toggle-collect=ap_run_process_connection",
                    "--callgrind-out-file=%s" % os.path.join(
                        out_dir, "callgrind.%s.%%p" % label)] + argv
        self.proc = harness.Proc("apache2", argv, os.path.join(root, "logs", "stderr.log"),
                                 env=dict(os.environ, LANG="C"))

    @property
    def out_file(self):
        return os.path.join(self.out_dir, "callgrind.%s.%d" % (self.label, self.proc.pid))

    def start(self, ports, timeout):
        self.proc.start()

        def up():
            if not self.proc.running():
                raise harness.WaitAbort("apache2 exited:\n%s\n%s" % (
                    harness.tail(os.path.join(self.root, "logs", "error.log"), 30),
                    harness.tail(os.path.join(self.root, "logs", "stderr.log"), 30)))
            return all(harness.port_accepts(p) for p in ports)
        deadline = time.monotonic() + timeout
        harness.wait_for(up, timeout, interval=0.5, what="apache2 ports %s" % (ports,))
        # the ports accept from the first configuration pass on: one request, answered once
        # httpd serves (counted with the phase's, like any first request)
        conn = http.client.HTTPConnection("127.0.0.1", ports[0],
                                          timeout=max(deadline - time.monotonic(), 1))
        try:
            conn.request("GET", STATIC_PATH, headers={"Host": self.ready_host})
            expect(conn.getresponse(), "first request", 200, STATIC_BODY)
        finally:
            conn.close()
        if self.valgrind:
            uid = pwd.getpwnam(harness.HTTPD_USER).pw_uid
            harness.wait_for(lambda: os.path.exists(self.out_file), 30, interval=0.2,
                             what=self.out_file)
            os.chown(self.out_file, uid, -1)

    def stop(self, timeout):
        """SIGTERM, bounded wait (callgrind writes its counts), then the group is killed.
        Returns (instructions counted, of them inside mod_acme), or (None, None) without
        valgrind."""
        self.proc.stop(timeout=timeout)
        if not self.valgrind:
            return None, None
        return callgrind_totals(self.out_file), module_cost(self.out_file)


# ---------------------------------------------------------------------------------------------
# the client

def expect(resp, what, status, body=None):
    data = resp.read()
    if resp.status != status or (body is not None and data != body):
        raise BenchError("%s: got %d with %d bytes, expected %d%s" % (
            what, resp.status, len(data), status, "" if body is None else " and the file"))


def phase_requests(phase, hosts, http_port, https_port, ca_pem, n):
    """n requests of a phase over one keep-alive connection; every answer checked."""
    if phase == "https_static":
        host = hosts[len(hosts) // 2]
        ctx = ssl.create_default_context(cafile=ca_pem)   # the vhost's own certificate
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=120, context=ctx)
        # connected here with the vhost's name as SNI (http.client would send 127.0.0.1)
        conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https_port), 120),
                                    server_hostname=host)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=120)
    try:
        for i in range(n):
            host = hosts[len(hosts) // 2] if phase == "https_static" else hosts[i % len(hosts)]
            if phase == "http_unknown":
                # a connection each: httpd closes it after an answer from post_read_request
                conn.close()
                conn.request("GET", harness.CHALLENGE_PREFIX + UNKNOWN_TOKEN,
                             headers={"Host": host, "Connection": "close"})
                expect(conn.getresponse(), "%s %s" % (phase, host), 404)
            else:
                conn.request("GET", STATIC_PATH, headers={"Host": host})
                expect(conn.getresponse(), "%s %s" % (phase, host), 200, STATIC_BODY)
    finally:
        conn.close()


def run_variant(variant, args, work, hosts, certs, ca_pem, ports):
    """One server start per phase (the counts of a phase are those callgrind writes when
    that server ends), all with the same configuration and store."""
    root = os.path.join(work, variant)
    os.makedirs(root)
    http_port, https_port, closed_port = ports
    ca_url = "https://127.0.0.1:%d/dir" % closed_port
    if variant == "acme":
        write_store(os.path.join(root, "acme"), certs, ca_url)
    conf = write_conf(root, variant, hosts, certs, http_port, https_port, ca_pem, ca_url)
    out_dir = os.path.join(root, "callgrind")
    os.makedirs(out_dir)
    # the User's: processes httpd forks after switching to it (mod_acme's check that the
    # User can read ACMEServerCAFile) write their own callgrind file there when they end
    os.chown(out_dir, pwd.getpwnam(harness.HTTPD_USER).pw_uid, -1)
    result = {"variant": variant, "vhosts": len(hosts), "requests": args.requests}
    for phase in PHASES:
        srv = Server(root, conf, not args.no_valgrind, out_dir, phase, hosts[0])
        t0 = time.monotonic()
        try:
            srv.start((http_port, https_port), args.start_timeout)
            result.setdefault("start_s", round(time.monotonic() - t0, 1))
            t = time.monotonic()
            phase_requests(phase, hosts, http_port, https_port, ca_pem, args.requests)
            took = time.monotonic() - t
        finally:
            total, inside = srv.stop(timeout=args.stop_timeout)
        if total is not None:
            result[phase] = total
            result[phase + "_module"] = inside
        note("%s %s: serving after %.1f s, %d requests in %.1f s%s" % (
            variant, phase, result["start_s"], args.requests, took,
            ", %d instructions" % total if total is not None else ""))
    if variant == "acme":
        with open(os.path.join(root, "logs", "error.log"), errors="replace") as f:
            log = f.read()
        # the module served the live sets: no fallback, no rebuilt meta.json
        for bad in ("ACME00144", "ACME00141", "ACME00140"):
            if bad in log:
                raise BenchError("mod_acme did not serve the store as written (%s):\n%s" % (
                    bad, harness.tail(os.path.join(root, "logs", "error.log"), 30)))
    return result


def table(results, requests):
    by = {r["variant"]: r for r in results}
    rows = ["| request | static: instructions/request | mod_acme: instructions/request "
            "| difference | of them inside mod_acme's hooks |", "|---|---|---|---|---|"]
    label = {"http_static": "static file over http (Host rotating over all vhosts)",
             "https_static": "static file over https (one keep-alive TLS connection)",
             "http_unknown": "unknown-token challenge request over http (404)"}
    for phase in PHASES:
        s, a = by["static"].get(phase), by["acme"].get(phase)
        if s is None or a is None:
            continue
        inside = by["acme"].get(phase + "_module") or 0
        rows.append("| %s | %.0f | %.0f | %+.0f (%+.2f%%) | %.0f (%.2f%%) |" % (
            label[phase], s / requests, a / requests, (a - s) / requests, 100.0 * (a - s) / s,
            inside / requests, 100.0 * inside / s))
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vhosts", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-valgrind", action="store_true",
                    help="run the same requests without callgrind (checks answers only)")
    ap.add_argument("--start-timeout", type=float, default=None,
                    help="seconds until httpd serves (default 60 + 0.4 per vhost)")
    ap.add_argument("--stop-timeout", type=float, default=120)
    ap.add_argument("--json", help="append the results as one JSON object per line")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (httpd binds, switches to %s)" % harness.HTTPD_USER)
    if args.vhosts < 1 or args.requests < 1:
        raise SystemExit("--vhosts and --requests must be at least 1")
    if args.start_timeout is None:
        args.start_timeout = 60 + 0.6 * args.vhosts  # callgrind: ~0.2 s a vhost here
    work = tempfile.mkdtemp(prefix="reqpath-")
    os.chmod(work, 0o755)
    ok = False
    old_term = signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        hosts = names(args.vhosts)
        t = time.monotonic()
        ca_pem, certs = make_certs(work, hosts)
        note("%d certificates in %.1f s; work directory %s" % (len(hosts),
                                                                time.monotonic() - t, work))
        # the two variants side by side (instruction counts do not depend on load)
        ports = {v: (harness.free_port(), harness.free_port(), harness.free_port())
                 for v in VARIANTS}
        ex = concurrent.futures.ThreadPoolExecutor(max_workers=len(VARIANTS))
        try:
            futures = [ex.submit(run_variant, v, args, work, hosts, certs, ca_pem, ports[v])
                       for v in VARIANTS]
            results = [f.result() for f in futures]
        finally:
            harness.stop_all()   # a variant failed or we were stopped: the other's server too
            ex.shutdown(wait=True)
        print("\nbench/reqpath.py --vhosts %d --requests %d (%s)\n" % (
            args.vhosts, args.requests, "no valgrind" if args.no_valgrind else
            "callgrind, instructions inside ap_run_process_connection"))
        if not args.no_valgrind:
            print(table(results, args.requests))
        print("\nstart under %s: static %.1f s, mod_acme %.1f s" % (
            "callgrind" if not args.no_valgrind else "no valgrind",
            results[0]["start_s"], results[1]["start_s"]))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps({"vhosts": args.vhosts, "requests": args.requests,
                                    "results": results}) + "\n")
        ok = True
    except (BenchError, harness.HarnessError, TimeoutError, OSError, http.client.HTTPException,
            subprocess.TimeoutExpired) as exc:
        note("FAILED: %s" % exc)
    finally:
        harness.stop_all()
        signal.signal(signal.SIGTERM, old_term)
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            note("work directory kept: %s" % work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
