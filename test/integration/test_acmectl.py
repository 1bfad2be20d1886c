"""Issue 5, test 3: acmectl list/show/renew/revoke against a live server + pebble.
renew leads to a new certificate being served; revoke is accepted by pebble (pebble reports
the old certificate revoked) and a replacement is served. Wrong arguments exit 2."""

import json
import os
import ssl
import stat
import subprocess
import time
import urllib.request

import harness
from harness import VHost
import status_helpers as sh

V = VHost("ctl.mod-acme.test", aliases=["www.ctl.mod-acme.test"])
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))


def acmectl(*args, store=None, timeout=60):
    argv = [ACMECTL] + (["--store", store] if store else []) + list(args)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    print("$ %s -> %d\n%s%s" % (" ".join(argv), res.returncode, res.stdout, res.stderr))
    return res


def pebble_cert_status(pebble, serial):
    """pebble's management API: the status of the certificate with this serial."""
    ctx = ssl.create_default_context(cafile=pebble.ca_file)
    for s in (serial.lower().lstrip("0"), serial.lower(), serial.upper()):
        url = "https://127.0.0.1:%d/cert-status-by-serial/%s" % (pebble.mgmt_port, s)
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
                return json.loads(r.read().decode()).get("Status")
        except urllib.error.HTTPError:
            continue
    return None


def test_usage_errors(tools):
    assert os.access(ACMECTL, os.X_OK), "%s not built (make -C build)" % ACMECTL
    for args in ([], ["bogus"], ["show"], ["renew"], ["renew", "a", "--all"], ["revoke"],
                 ["revoke", "x", "--reason", "bogus"], ["--store"], ["list", "extra"],
                 ["--frobnicate", "list"], ["show", "a", "b"]):
        res = acmectl(*args)
        assert res.returncode == 2, (args, res)
        assert "usage:" in res.stderr, (args, res.stderr)
    res = acmectl("--help")
    assert res.returncode == 0 and "usage:" in res.stdout
    res = acmectl("list", store="/nonexistent/acme-store")
    assert res.returncode == 1 and "not found" in res.stderr


def test_list_show_renew_revoke(httpd_factory, pebble, acme_config, timing):
    t0 = time.monotonic()
    httpd = httpd_factory([V, sh.status_vhost()], acme_config)
    first, _ = httpd.wait_for_cert(V.name, pebble, timeout=60, names=V.names)
    store = httpd.store

    # ---- list / show
    res = acmectl("list", store=store)
    assert res.returncode == 0, res
    assert "Certificate Name: %s" % V.name in res.stdout
    assert "Domains: %s" % " ".join(sorted(V.names)) in res.stdout
    assert "(VALID: " in res.stdout and first.serial.lstrip("0") in res.stdout
    assert os.path.join(store, "live", V.name, "chain.pem") in res.stdout
    assert os.path.join(store, "live", V.name, "key.pem") in res.stdout
    res = acmectl("--json", "list", store=store)
    assert res.returncode == 0, res
    j = json.loads(res.stdout)
    assert [c["id"] for c in j["certificates"]] == [V.name], j
    c = j["certificates"][0]
    assert c["state"] == "valid" and sh.serial_eq(c["serial"], first.serial)
    assert sh.rfc3339_to_epoch(c["valid_until"]) == first.not_after
    assert c["days_left"] >= 1 and c["key"] == "p256" and c["ca"] == pebble.directory_url
    res = acmectl("show", "www.ctl.mod-acme.test", store=store)
    assert res.returncode == 0 and "Issuer: " in res.stdout and "Valid From: " in res.stdout
    res = acmectl("--json", "show", V.name, store=store)
    assert res.returncode == 0 and json.loads(res.stdout)["id"] == V.name
    res = acmectl("show", "nope.mod-acme.test", store=store)
    assert res.returncode == 1 and "no certificate named" in res.stderr
    secrets = sh.secrets_of(store)
    for args in (["list"], ["--json", "list"], ["show", V.name], ["--json", "show", V.name]):
        r = acmectl(*args, store=store)
        sh.assert_no_secret(r.stdout + r.stderr, secrets, "acmectl %s" % " ".join(args))

    # ---- renew: the request file as the worker needs it, then a new certificate served
    t1 = time.monotonic()
    res = acmectl("renew", V.name, store=store)
    assert res.returncode == 0 and "renewal requested" in res.stdout, res
    req = os.path.join(store, "orders", V.name, "renew.request")
    orders = os.stat(os.path.join(store, "orders"))
    try:
        st = os.stat(req)
        assert (st.st_uid, st.st_gid) == (orders.st_uid, orders.st_gid)
        assert stat.S_IMODE(st.st_mode) == 0o600
    except FileNotFoundError:
        pass  # the server was quicker than us
    second, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=first.serial,
                                    names=V.names)
    timing("acmectl renew -> new certificate served", time.monotonic() - t1)
    assert not os.path.exists(req), "the server did not remove the renewal request"
    assert "renewal requested (acmectl renew)" in httpd.error_log()

    # ---- revoke: accepted by pebble, then a replacement is served
    t2 = time.monotonic()
    mark = pebble.mark()
    res = acmectl("revoke", "www.ctl.mod-acme.test", "--reason", "superseded", store=store)
    assert res.returncode == 0, res
    assert "revoked" in res.stdout and second.serial.lstrip("0") in res.stdout.upper()
    assert pebble.count(r"POST /revoke-cert", since=mark) >= 1, pebble.log_text()[mark:]
    assert pebble_cert_status(pebble, second.serial) == "Revoked"
    assert pebble_cert_status(pebble, first.serial) != "Revoked"
    third, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=second.serial,
                                   names=V.names)
    assert third.serial != first.serial
    timing("acmectl revoke -> replacement served", time.monotonic() - t2)
    res = acmectl("show", V.name, store=store)
    assert res.returncode == 0 and third.serial.lstrip("0") in res.stdout

    # renew --all only leaves requests (the server would renew again: not waited for)
    res = acmectl("renew", "--all", store=store)
    assert res.returncode == 0 and "%s: renewal requested" % V.name in res.stdout
    sh.assert_no_secret(httpd.error_log(), sh.secrets_of(store), "the error log")
    timing("acmectl: whole test", time.monotonic() - t0)


def _seal(secret, plain):
    """The store's sealed format: "ACMESEAL1" | 12-byte IV | 16-byte tag | ciphertext
    (AES-256-GCM, the magic as AAD)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    iv = os.urandom(12)
    ct = AESGCM(secret).encrypt(iv, plain, b"ACMESEAL1")
    return b"ACMESEAL1" + iv + ct[-16:] + ct[:-16]


def test_show_checks_staged_set(tmp_path):
    """acmectl show/list say whether a staged certificate would be activated, by the check
    the server runs at its next restart (acme_install_check), and change nothing. No server
    and no CA: the store is written here, the certificates come from the test-only proxy's
    own CA (acme_proxy._WrongCerts), which also makes the wrong ones."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import acme_proxy

    ca = acme_proxy._WrongCerts()
    store = str(tmp_path / "acme")
    name, names = "staged.mod-acme.test", ["staged.mod-acme.test", "www.staged.mod-acme.test"]
    staging = os.path.join(store, "staging", name)
    os.makedirs(os.path.join(store, "system", "secret"), mode=0o700)
    os.makedirs(staging, mode=0o700)
    secret = os.urandom(32)
    with open(os.path.join(store, "system", "secret", "secret.key"), "wb") as fh:
        fh.write(secret)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca._build(ca._name(name), ca.int.subject, key.public_key(), ca.int_key, names=names)
    good = ca._pem(leaf, ca.int)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())

    def stage(chain):
        for f, data in (("chain.pem", chain), ("key.sealed", _seal(secret, key_pem)),
                        ("meta.json", json.dumps({"names": names, "key": "p256"}).encode())):
            with open(os.path.join(staging, f), "wb") as fh:
                fh.write(data)

    stage(good)
    res = acmectl("show", name, store=store)
    assert res.returncode == 0, res
    assert "Staged Check: passes: it goes live at the next graceful restart" in res.stdout
    res = acmectl("--json", "show", name, store=store)
    assert json.loads(res.stdout)["staged_check"] == {"result": "passes", "reason": None}
    for kind, why in (("wrong_key", "private key does not match the certificate"),
                      ("expired", "certificate expired at "),
                      ("other_names", "names differ: certificate has wrong-name.mod-acme.test"),
                      ("leaf_only", "the chain holds only the leaf")):
        stage(ca.make(kind, good))
        res = acmectl("list", store=store)
        assert res.returncode == 0, res
        assert "Staged Check: REFUSED: %s" % why in res.stdout, (kind, res.stdout)
        assert "PRIVATE KEY" not in res.stdout
        j = json.loads(acmectl("--json", "show", name, store=store).stdout)
        assert j["staged_check"]["result"] == "refused", (kind, j)
        assert why in j["staged_check"]["reason"], (kind, j)
    # the check moved nothing
    assert sorted(os.listdir(staging)) == ["chain.pem", "key.sealed", "meta.json"]
    assert not os.path.exists(os.path.join(store, "archive"))
    assert not os.path.exists(os.path.join(store, "live"))
    # without the secret it cannot tell, and says why
    os.unlink(os.path.join(store, "system", "secret", "secret.key"))
    res = acmectl("show", name, store=store)
    assert res.returncode == 0, res
    assert "Staged Check: unknown: the store's secret" in res.stdout, res.stdout
    assert not os.path.exists(os.path.join(store, "system", "secret", "secret.key"))
