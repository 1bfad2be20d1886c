"""Issue 10: ACMEKeyReuse (real pebble). Two issuances of one certificate (the first, then
`acmectl renew`): with ACMEKeyReuse on both have the same public key; with it off (the
default) they differ. With reuse on, the replacement after `acmectl revoke` gets a new key,
and so does a changed ACMEKeyType (of the new type). The reused key is never the account
key."""

import os
import subprocess
import time

import harness
from harness import VHost

ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))


def pubkey(pem):
    """The certificate's public key (SubjectPublicKeyInfo PEM)."""
    return subprocess.run([harness.OPENSSL, "x509", "-noout", "-pubkey"], input=pem.encode(),
                          capture_output=True, check=True).stdout.decode()


def key_file_pubkey(path):
    return subprocess.run([harness.OPENSSL, "pkey", "-in", path, "-pubout"],
                          capture_output=True, check=True).stdout.decode()


def renew(httpd, v, pebble, old):
    res = subprocess.run([ACMECTL, "--store", httpd.store, "renew", v.name],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "renewal requested" in res.stdout, res
    new, _ = httpd.wait_for_cert(v.name, pebble, timeout=120, not_serial=old.serial,
                                 names=v.names)
    return new


def test_key_reuse_on_keeps_key(httpd_factory, pebble, acme_config, timing):
    v = VHost("kr-on.mod-acme.test")
    httpd = httpd_factory([VHost(v.name, lines=["ACMEKeyReuse on"]), VHost(v.name, ssl=False)],
                          acme_config)
    first, _ = httpd.wait_for_cert(v.name, pebble, timeout=90, names=v.names)
    # the generation serving the first certificate hands its key to the next order
    httpd.wait_for(lambda: httpd.log_entries(
        r"ACME00483: certificate %s: the next order uses the live key" % v.name), 30,
        what="ACME00483 (the live key for the next order)")
    t0 = time.monotonic()
    second = renew(httpd, v, pebble, first)
    timing("renewal with ACMEKeyReuse on", time.monotonic() - t0)
    assert pubkey(second.pem) == pubkey(first.pem), "ACMEKeyReuse on: the key changed"
    assert httpd.log_entries(r"ACME00482: certificate %s: the new order uses the live "
                             r"certificate's key" % v.name), httpd.diagnostics()
    # never the account key
    live_key = os.path.join(httpd.store, "live", v.name, "key.pem")
    assert key_file_pubkey(live_key) == pubkey(second.pem)
    for d, _, files in os.walk(os.path.join(httpd.store, "accounts")):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                assert b"PRIVATE KEY" not in fh.read(), os.path.join(d, f)

    # a revoked certificate's key is not reused for its replacement
    res = subprocess.run([ACMECTL, "--store", httpd.store, "revoke", v.name, "--reason",
                          "superseded"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "replacement was requested" in res.stdout, res
    third, _ = httpd.wait_for_cert(v.name, pebble, timeout=120, not_serial=second.serial,
                                   names=v.names)
    assert pubkey(third.pem) != pubkey(second.pem), "the revoked certificate's key was reused"
    assert httpd.log_entries(r"ACME00484: certificate %s: a new key despite ACMEKeyReuse on"
                             % v.name), httpd.diagnostics()

    # a changed key type overrides reuse: a new key of the new type
    httpd.vhosts[0] = VHost(v.name, lines=["ACMEKeyReuse on", "ACMEKeyType p384"])
    httpd.write_config()
    httpd.graceful()
    fourth = httpd.wait_for(lambda: (lambda c: c if c.serial != third.serial else None)(
        httpd.cert(v.name)), 90, what="a new certificate after ACMEKeyType changed")
    assert pubkey(fourth.pem) != pubkey(third.pem)
    assert "ASN1 OID: secp384r1" in subprocess.run(
        [harness.OPENSSL, "x509", "-noout", "-text"], input=fourth.pem.encode(),
        capture_output=True, check=True).stdout.decode()


def test_key_reuse_off_new_key(httpd_factory, pebble, acme_config):
    v = VHost("kr-off.mod-acme.test")
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], acme_config)
    first, _ = httpd.wait_for_cert(v.name, pebble, timeout=90, names=v.names)
    second = renew(httpd, v, pebble, first)
    assert pubkey(second.pem) != pubkey(first.pem), "ACMEKeyReuse off: the key was kept"
    assert not httpd.log_entries(r"ACME0048[23]:"), "key reuse logged while off"
