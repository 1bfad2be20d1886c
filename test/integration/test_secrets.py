"""Issue 8, test 8: secrets never leak.

One server, LogLevel acme:trace8, two managed certificates: one over http-01, one over
tls-alpn-01. Both are issued, then one is renewed (acmectl renew). Then everything the run
produced is searched for the actual secret values:

  - the error log, the access log and httpd's stderr;
  - server-status (HTML and ?auto), acme-status JSON (all and per certificate), acme-metrics;
  - `acmectl list/show` (text and JSON);
  - every file of the store that httpd's User (www-data) can read, read as that user.

The secrets: every certificate private key the store holds (live and archived: PEM body, DER
in base64 and base64url, the private scalar/exponent in hex and base64url as in a JWK "d"),
the ACME account's private key (unsealed here from accounts/*/key.sealed with the store
secret, AES-256-GCM as docs/store.md describes), the store secret itself, every key
authorization (token "." thumbprint) and every JWS signature the module sent.

A TEST-ONLY proxy (acme_proxy.py) sits between the module and pebble only to see what the
module sends: it records every JWS (its signature, the account's JWK) and pebble's answers
(the challenge tokens). It changes nothing. Pebble issues for real.

The search can fail: positive controls show that the same search finds the certificate key
in the root-only live key.pem, the account key in its unsealed PEM, the signatures in the
raw JWS bodies and a key authorization in a text that contains one.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import harness
from harness import VHost
import status_helpers as sh

HTTP01 = VHost("secret.mod-acme.test", aliases=["www.secret.mod-acme.test"])
ALPN = VHost("alpn.secret.mod-acme.test", lines=["ACMEChallenges tls-alpn-01"])
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
SEAL_MAGIC = b"ACMESEAL1"          # docs/store.md: magic, 12-byte IV, 16-byte tag, ciphertext
FRAG = 32                          # length of the fragments searched for


def b64(raw):
    return base64.b64encode(raw).decode()


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fragments(text, n=3):
    """n fragments of FRAG characters spread over text (all of it when shorter)."""
    if len(text) <= FRAG:
        return [text]
    step = max(1, (len(text) - FRAG) // max(1, n - 1))
    return sorted({text[i:i + FRAG] for i in range(0, len(text) - FRAG + 1, step)})


class Secrets:
    """Named secret fragments; find(text) -> the names found in text."""

    def __init__(self):
        self.items = []        # (name, fragment)

    def add(self, name, value, whole=False):
        """whole: only the complete value is secret (a key authorization: its token alone is
        in every access log, its thumbprint is public)."""
        for f in [value] if whole else fragments(value):
            self.items.append((name, f))

    def add_key(self, name, pem):
        """A private key: its PEM body, its DER (base64, base64url), its private value."""
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem,
                                                 password=None)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        body = "".join(line for line in (pem if isinstance(pem, str) else pem.decode())
                       .splitlines() if not line.startswith("-----"))
        self.add(name + " (PEM body)", body)
        self.add(name + " (DER base64)", b64(der))
        self.add(name + " (DER base64url)", b64u(der))
        if isinstance(key, ec.EllipticCurvePrivateKey):
            size = (key.curve.key_size + 7) // 8
            d = key.private_numbers().private_value.to_bytes(size, "big")
        elif isinstance(key, rsa.RSAPrivateKey):
            dv = key.private_numbers().d
            d = dv.to_bytes((dv.bit_length() + 7) // 8, "big")
        else:
            raise AssertionError("unexpected key type %r" % key)
        self.add(name + " (private value, JWK d)", b64u(d))
        self.add(name + " (private value, hex)", d.hex())
        return key

    def find(self, text):
        return sorted({name for name, f in self.items if f in text})

    def names(self):
        return sorted({name for name, _ in self.items})


def unseal(secret, blob):
    assert blob[:len(SEAL_MAGIC)] == SEAL_MAGIC, "not a sealed value"
    iv = blob[len(SEAL_MAGIC):len(SEAL_MAGIC) + 12]
    tag = blob[len(SEAL_MAGIC) + 12:len(SEAL_MAGIC) + 28]
    ct = blob[len(SEAL_MAGIC) + 28:]
    return AESGCM(secret).decrypt(iv, ct + tag, SEAL_MAGIC)


def jwk_thumbprint(jwk):
    """RFC 7638."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in members}, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(canon.encode()).digest())


def read_as_user(store):
    """{path: bytes} of every file under store that httpd's User can read, read as that
    user (not as root), plus the paths it could not read."""
    code = r"""
import base64, json, os, sys
out, denied = {}, []
for dp, dns, fns in os.walk(sys.argv[1]):
    for fn in fns:
        p = os.path.join(dp, fn)
        try:
            with open(p, "rb") as f:
                out[p] = base64.b64encode(f.read()).decode()
        except OSError:
            denied.append(p)
print(json.dumps({"files": out, "denied": denied}))
"""
    uid, gid = harness.httpd_user_ids()
    res = subprocess.run(["/usr/bin/python3", "-c", code, store], capture_output=True, text=True,
                         timeout=60, user=uid, group=gid, extra_groups=[])
    assert res.returncode == 0, res.stderr
    j = json.loads(res.stdout)
    return {p: base64.b64decode(v) for p, v in j["files"].items()}, j["denied"]


def acmectl(*args, store):
    argv = [ACMECTL, "--store", store] + list(args)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, (argv, res.stdout, res.stderr)
    return res.stdout + res.stderr


def test_no_secret_anywhere(pebble_factory, proxy_factory, httpd_factory, timing):
    t0 = time.monotonic()
    peb = pebble_factory()
    proxy = proxy_factory(peb, ari=False)
    httpd = httpd_factory([HTTP01, ALPN, sh.status_vhost()],
                          harness.acme_lines(proxy.directory_url, peb.ca_file),
                          global_lines=["LogLevel acme:trace8"])
    first, _ = httpd.wait_for_cert(HTTP01.name, peb, timeout=90, names=HTTP01.names)
    httpd.wait_for_cert(ALPN.name, peb, timeout=90, names=ALPN.names)
    timing("secrets: two certificates (http-01, tls-alpn-01)", time.monotonic() - t0)

    # a renewal: the old key goes to archive/, a new one is live
    t1 = time.monotonic()
    assert "renewal requested" in acmectl("renew", HTTP01.name, store=httpd.store)
    httpd.wait_for_cert(HTTP01.name, peb, timeout=120, not_serial=first.serial,
                        names=HTTP01.names)
    httpd.wait_for(lambda: not os.listdir(os.path.join(httpd.store, "staging")), 30,
                   what="staging empty after the renewal's activation")
    timing("secrets: acmectl renew -> renewed certificate served", time.monotonic() - t1)
    assert "tls-alpn-01: answering a challenge for %s" % ALPN.name in httpd.error_log()
    assert re.search(r"ACME00021: http-01: answering a challenge", httpd.error_log())
    assert re.search(r"\[acme:trace\d\]", httpd.error_log()), "trace logging was not on"

    # ---- the secrets
    store = httpd.store
    secrets = Secrets()
    key_files = []
    for group in ("live", "archive"):
        for dp, _dns, fns in os.walk(os.path.join(store, group)):
            key_files += [os.path.join(dp, f) for f in fns if f == "key.pem"]
    assert len(key_files) >= 3, key_files   # two live, one archived by the renewal
    for p in key_files:
        with open(p) as f:
            secrets.add_key("certificate key %s" % os.path.relpath(p, store), f.read())
    with open(os.path.join(store, "system", "secret", "secret.key"), "rb") as f:
        secret = f.read()
    assert len(secret) == 32
    secrets.add("store secret (hex)", secret.hex())
    secrets.add("store secret (base64)", b64(secret))
    secrets.add("store secret (base64url)", b64u(secret))
    account_pems = []
    for dp, _dns, fns in os.walk(os.path.join(store, "accounts")):
        if "key.sealed" in fns:
            with open(os.path.join(dp, "key.sealed"), "rb") as f:
                account_pems.append(unseal(secret, f.read()).decode())
    assert len(account_pems) == 1, account_pems
    account_key = secrets.add_key("account key", account_pems[0])

    # what the module sent (seen by the test-only proxy): signatures, the account's JWK
    posts = [r for r in proxy.requests(method="POST") if r.signature]
    assert len(posts) >= 10, proxy.summary()
    for r in posts:
        secrets.add("JWS signature (%s)" % r.path, r.signature)
    jwks = [r.protected["jwk"] for r in posts if r.protected and "jwk" in r.protected]
    assert jwks, "no JWS with an embedded JWK (newAccount) seen"
    thumb = jwk_thumbprint(jwks[0])
    pub = account_key.public_key().public_numbers()
    assert b64u_decode(jwks[0]["x"]) == pub.x.to_bytes(32, "big"), \
        "the unsealed account key is not the key the module signs with"
    tokens = set()
    for r in proxy.requests():
        try:
            doc = json.loads(r.response_body or b"null")
        except ValueError:
            continue
        for ch in (doc.get("challenges", []) if isinstance(doc, dict) else []):
            if ch.get("token"):
                tokens.add(ch["token"])
    assert len(tokens) >= 4, tokens   # every challenge offered for 3 names, twice for one
    for tk in sorted(tokens):
        secrets.add("key authorization of token %s" % tk[:8], tk + "." + thumb, whole=True)
    print("searching for %d fragments of %d secrets" % (len(secrets.items),
                                                         len(secrets.names())))

    # ---- positive controls: the same search finds them where they are
    for p in key_files:
        with open(p) as f:
            found = secrets.find(f.read())
        assert "certificate key %s (PEM body)" % os.path.relpath(p, store) in found, found
    assert "account key (PEM body)" in secrets.find(account_pems[0])
    der = account_key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    assert "account key (DER base64url)" in secrets.find("x" + b64u(der) + "x")
    assert "account key (private value, JWK d)" in secrets.find(json.dumps(
        {"d": b64u(account_key.private_numbers().private_value.to_bytes(32, "big"))}))
    assert secrets.find(json.dumps({"signature": posts[-1].signature}))
    some_token = sorted(tokens)[0]
    assert secrets.find("GET /x HTTP/1.1 -> %s.%s" % (some_token, thumb))

    # ---- everything the run produced
    outputs = {}
    for path in (httpd.error_log_file, httpd.access_log_file, httpd.stderr_file):
        with open(path, errors="replace") as f:
            outputs[os.path.basename(path)] = f.read()
    for path in ("/server-status", "/server-status?auto", "/acme-status",
                 "/acme-status/" + HTTP01.name, "/acme-status/" + ALPN.name, "/metrics"):
        r = sh.get(httpd, path)
        assert r.status == 200, (path, r)
        outputs[path] = r.text
    assert HTTP01.name in outputs["/server-status?auto"]
    for args in (["list"], ["--json", "list"], ["show", HTTP01.name], ["--json", "show",
                                                                        HTTP01.name],
                 ["show", ALPN.name]):
        outputs["acmectl " + " ".join(args)] = acmectl(*args, store=store)
    readable, denied = read_as_user(store)
    assert any("/accounts/" in p for p in readable), sorted(readable)
    assert any(p.endswith("/live/%s/key.pem" % HTTP01.name) for p in denied) or not any(
        p.endswith("key.pem") for p in readable), "live key.pem readable by the User"
    for p, data in readable.items():
        outputs["store file %s (readable by %s)" % (os.path.relpath(p, store),
                                                    harness.HTTPD_USER)] = \
            data.decode("latin-1")
    print("searched %d outputs (%d kB), %d store files readable by %s" % (
        len(outputs), sum(len(v) for v in outputs.values()) // 1024, len(readable),
        harness.HTTPD_USER))
    assert len(outputs["error.log"]) > 10000, "suspiciously short trace log"

    leaks = {}
    for what, text in outputs.items():
        found = secrets.find(text)
        if "PRIVATE KEY" in text:
            found.append("a PEM private key")
        if found:
            leaks[what] = found
    assert not leaks, "secrets found:\n" + "\n".join("  %s: %s" % (w, ", ".join(f))
                                                     for w, f in sorted(leaks.items()))
    timing("secrets: whole test", time.monotonic() - t0)
