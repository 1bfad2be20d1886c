#!/usr/bin/python3
"""Record a real pebble's answers as seed inputs for the libFuzzer targets (fuzz/corpus/).

Starts Debian's pebble (PEBBLE_VA_ALWAYS_VALID=1: no validation is needed, the http-01
answers are not published anywhere) with pebble-challtestsrv through the integration test
harness, runs one whole order with a tiny ES256 client (test/integration/acme_proxy.py's),
provokes a few problem documents, and writes every answer in the text form of
fuzz/fuzz_common.c's fuzz_response() ("STATUS\\nName: value\\n...\\n\\nbody"):

    fuzz/corpus/fuzz_acme/pebble-order       the answers of one whole order, in the order
                                             the module asks (directory ... certificate)
    fuzz/corpus/fuzz_problem/pebble-*        problem documents
    fuzz/corpus/fuzz_headers/pebble-links    the Link headers pebble sent
    fuzz/corpus/fuzz_pem/pebble-chain.pem    the issued chain (and its leaf as DER)

Run by hand (not in CI): /usr/bin/python3 fuzz/capture_pebble.py [CORPUS_DIR]
(default fuzz/corpus; it replaces the pebble-* files there).
"""
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import harness  # noqa: E402
from acme_proxy import _MiniClient  # noqa: E402

CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
SKIP = {"date", "content-length", "server", "connection", "cache-control"}


def as_text(status, headers, body):
    lines = ["%d" % status]
    for k, v in headers:
        if k.lower() not in SKIP:
            lines.append("%s: %s" % (k, v))
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return "\n".join(lines) + "\n\n" + (body or "")


class Recorder(_MiniClient):
    """_MiniClient whose connections record every raw answer (status, headers, body)."""

    def __init__(self, *a, **kw):
        self.answers = []
        super().__init__(*a, **kw)

    def _conn(self):
        conn = super()._conn()
        real = conn.getresponse
        rec = self.answers

        def getresponse():
            r = real()
            body = r.read()
            rec.append(as_text(r.status, r.getheaders(), body))

            class Replay:
                status = r.status

                def read(self):
                    return body

                def getheaders(self):
                    return r.getheaders()
            return Replay()
        conn.getresponse = getresponse
        return conn


def write(rel, text, mode="w"):
    path = os.path.join(CORPUS, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)
    harness.log("wrote %s (%d bytes)" % (path, len(text)))


def csr_der(names):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER)


def main():
    from acme_proxy import b64u
    work = harness.make_tempdir("acme-fuzz-capture-")
    servers = []
    try:
        cts = harness.ChallTestSrv(os.path.join(work, "cts")).start()
        servers.append(cts)
        peb = harness.Pebble(os.path.join(work, "pebble"), cts.dns_port, harness.free_port(),
                             harness.free_port(),
                             env={"PEBBLE_VA_ALWAYS_VALID": "1",
                                  "PEBBLE_ALTERNATE_ROOTS": "1"}).start()
        servers.append(peb)
        names = ["example.org", "www.example.org"]
        cl = Recorder(peb.directory_url, peb.ca_file)
        d = cl.directory
        st, hdrs, _ = cl.post(d["newAccount"], {"termsOfServiceAgreed": True,
                                                "contact": ["mailto:admin@example.org"]})
        assert st in (200, 201), st
        cl.kid = hdrs["location"]
        st, hdrs, order = cl.post(d["newOrder"], {"identifiers": [
            {"type": "dns", "value": n} for n in names]})
        assert st == 201, (st, order)
        order_url = hdrs["location"]
        for az in order["authorizations"]:
            st, _, authz = cl.post(az, None)
            ch = [c for c in authz["challenges"] if c["type"] == "http-01"][0]
            cl.post(ch["url"], {})
            for _ in range(50):
                st, _, authz = cl.post(az, None)
                if authz["status"] != "pending":
                    break
            assert authz["status"] == "valid", authz
        st, _, order = cl.post(order["finalize"], {"csr": b64u(csr_der(names))})
        for _ in range(50):
            if order["status"] == "valid":
                break
            st, _, order = cl.post(order_url, None)
        assert order["status"] == "valid", order
        try:
            cl.post(order["certificate"], None)
        except ValueError:
            pass   # the tiny client parses every answer as JSON; this one is PEM (recorded)
        whole = list(cl.answers)
        # the module asks in this order: directory, HEAD newNonce, newAccount, newOrder, ...
        write("fuzz_acme/pebble-order", "\n=====\n".join(whole))

        # the chain, and the leaf as DER (fuzz_pem wraps non-PEM input itself)
        pem = [a for a in whole if "-----BEGIN CERTIFICATE-----" in a][-1]
        pem = pem[pem.index("-----BEGIN"):]
        write("fuzz_pem/pebble-chain.pem", pem)
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        leaf = x509.load_pem_x509_certificate(pem.encode())
        write("fuzz_pem/pebble-leaf.der", leaf.public_bytes(serialization.Encoding.DER), "wb")
        links = [a for a in whole if re.search(r"^Link:", a, re.M)]
        write("fuzz_headers/pebble-links", "\n".join(
            line[len("Link: "):] for a in links for line in a.splitlines()
            if line.startswith("Link: ")) + "\n")

        # problem documents: a malformed name, a bad nonce, an unknown account
        n0 = len(cl.answers)
        cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "bad_name.example.org"}]})
        write("fuzz_problem/pebble-rejected-identifier", cl.answers[n0])
        cl.nonce = "bm9wZQ"
        n0 = len(cl.answers)
        cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "x.example.org"}]})
        write("fuzz_problem/pebble-bad-nonce", cl.answers[n0])
        cl.kid = cl.kid + "0"
        n0 = len(cl.answers)
        cl.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "x.example.org"}]})
        write("fuzz_problem/pebble-account-does-not-exist", cl.answers[n0])
    except Exception:
        if len(servers) > 1:
            sys.stderr.write(harness.tail(servers[1].logfile, 30) + "\n")
        raise
    finally:
        for s in reversed(servers):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
