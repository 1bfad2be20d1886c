"""ACMEStatelessHTTP01: http-01 answered as token "." thumbprint of the account key, for any
well-formed token on a managed name, without a stored response (for fleets that share no
state). Real pebble; the second test has pebble validate another server's order against a
server that never saw its token."""

import base64
import hashlib
import json
import os
import re
import secrets
import shutil

import pytest

import harness
from harness import CHALLENGE_PREFIX, VHost

NAME = "stateless.mod-acme.test"
OTHER = "other.mod-acme.test"      # a second certificate, ordered by the second server


def _b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def account_thumbprint(store):
    """RFC 7638 thumbprint of the one account key in store (unsealed with the store's secret,
    as root): computed here independently of the module."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    magic = b"ACMESEAL1"
    with open(os.path.join(store, "system", "secret", "secret.key"), "rb") as f:
        secret = f.read()
    keys = []
    for dp, _dns, fns in os.walk(os.path.join(store, "accounts")):
        if "key.sealed" in fns:
            with open(os.path.join(dp, "key.sealed"), "rb") as f:
                blob = f.read()
            iv, tag, ct = blob[9:21], blob[21:37], blob[37:]
            assert blob[:9] == magic
            keys.append(AESGCM(secret).decrypt(iv, ct + tag, magic))
    assert len(keys) == 1, "expected one account in %s, found %d" % (store, len(keys))
    nums = serialization.load_pem_private_key(keys[0], None).public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64u(nums.x.to_bytes(32, "big")),
           "y": _b64u(nums.y.to_bytes(32, "big"))}
    canon = json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    return _b64u(hashlib.sha256(canon.encode()).digest())


def _token():
    return _b64u(secrets.token_bytes(32))


def _vhosts(*names):
    out = []
    for n in names:
        out += [VHost(n), VHost(n, ssl=False)]
    return out


@pytest.mark.compat
def test_any_token_answered_with_the_account_thumbprint(httpd_factory, pebble, acme_config):
    httpd = httpd_factory(_vhosts(NAME), acme_config + ["ACMEStatelessHTTP01 on",
                                                        "ACMEChallenges http-01"])
    httpd.wait_for_cert(NAME, pebble, timeout=90, names=[NAME])
    thumb = account_thumbprint(httpd.store)
    challenges = os.path.join(httpd.store, "challenges")
    # tokens the module never saw: no challenge file, any Host case, on http and https
    for host, tls in ((NAME, False), (NAME.upper(), False), (NAME, True)):
        tok = _token()
        r = httpd.get(CHALLENGE_PREFIX + tok, host, tls=tls)
        assert r.status == 200, (host, tls, r)
        assert r.text == "%s.%s" % (tok, thumb), (r.text, thumb)
        assert r.header("content-type").startswith("text/plain"), r.headers
        assert not os.listdir(challenges), os.listdir(challenges)
    assert re_count(httpd, r"ACME00670.*ACMEStatelessHTTP01 on.*1 account\(s\) read") >= 1
    # only well-formed tokens, only managed names
    for path, host in ((CHALLENGE_PREFIX + "abc.def", NAME),
                       (CHALLENGE_PREFIX + "..%2Fsystem%2Fsecret%2Fsecret.key", NAME),
                       (CHALLENGE_PREFIX + "A" * 257, NAME),
                       (CHALLENGE_PREFIX + _token(), "unmanaged.mod-acme.test"),
                       (CHALLENGE_PREFIX + _token(), "127.0.0.1")):
        r = httpd.get(path, host)
        assert r.status == 404, (path, host, r)
        assert thumb not in r.text
    r = httpd.get(CHALLENGE_PREFIX + _token(), NAME, method="POST")
    assert r.status == 404, r

    # off (the default): the same question is a 404
    httpd.stop()
    httpd.acme_lines = [line for line in httpd.acme_lines if "Stateless" not in line]
    httpd.write_config()
    httpd.start()
    r = httpd.get(CHALLENGE_PREFIX + _token(), NAME)
    assert r.status == 404, r


def re_count(httpd, regex):
    return len(httpd.log_entries(regex))


def _copy_account(src_store, dst_store):
    """What an admin of a stateless fleet copies to another server: the account (key sealed
    under the store secret) and that secret. Nothing else of the store."""
    os.makedirs(dst_store, exist_ok=True)
    os.chmod(dst_store, 0o755)
    shutil.copytree(os.path.join(src_store, "accounts"), os.path.join(dst_store, "accounts"))
    os.makedirs(os.path.join(dst_store, "system"), mode=0o700)
    shutil.copytree(os.path.join(src_store, "system", "secret"),
                    os.path.join(dst_store, "system", "secret"))


def test_validation_answered_by_a_server_that_never_saw_the_token(
        workdir, pebble_factory, httpd_factory, timing):
    """Two servers that share only the account (its key and the store secret copied, as an
    admin of a stateless fleet would): pebble validates on the ports of server B, while
    server A, on ports pebble never reaches, orders a certificate. A's challenge response
    exists only in A's store, so A's order can only succeed through B's stateless answer.
    Authorization reuse is off in pebble, so A's order is validated itself."""
    peb = pebble_factory(env={"PEBBLE_AUTHZREUSE": "0"})
    lines = harness.acme_lines(peb, peb.ca_file) + ["ACMEStatelessHTTP01 on",
                                                    "ACMEChallenges http-01"]
    # B: on the ports pebble validates against; manages both names
    b = httpd_factory(_vhosts(NAME, OTHER), lines)
    b.wait_for_cert(NAME, peb, timeout=90, names=[NAME])
    b.wait_for_cert(OTHER, peb, timeout=90, names=[OTHER])
    thumb = account_thumbprint(b.store)

    # A: its own ServerRoot and ports; only the account copied from B. Pebble reuses a valid
    # authorization 1 time in 100 even with PEBBLE_AUTHZREUSE=0 (its check is
    # rand.Intn(100) > percent): an order of A that needed no validation proves nothing, and
    # A starts again from a fresh ServerRoot (at most 3 times).
    for attempt in range(3):
        mark_b = b.log_mark()
        orders_before = peb.orders()
        root = harness.make_tempdir("mod_acme-httpd-A-")
        a = harness.Httpd(root, harness.free_port(), harness.free_port(),
                          vhosts=_vhosts(OTHER), acme_lines=lines)
        _copy_account(b.store, a.store)
        try:
            a.start()
            cert, waited = a.wait_for_cert(OTHER, peb, timeout=90, names=[OTHER])
            if not a.log_entries(r"http-01 for %s published" % re.escape(OTHER)):
                print("attempt %d: pebble reused B's authorization; A starts again" % attempt)
                continue
            timing("server A's certificate, validated through server B's stateless answer",
                   waited)
            assert peb.orders() == orders_before + 1, "A made %d orders" % (
                peb.orders() - orders_before)
            assert cert.serial != b.cert(OTHER).serial
            # B answered A's token without a stored response
            answered = b.log_entries(r"ACME00671", since=mark_b)
            assert answered, "B logged no stateless answer:\n" + b.diagnostics()
            # one account for both servers: A found it in its copy and created none
            assert account_thumbprint(a.store) == thumb
            assert peb.count(r"POST /sign-me-up") == 1, "more than one newAccount request"
            assert not a.log_entries(r"ACME00671"), "A answered statelessly itself?"
            break
        except Exception:
            print(a.diagnostics())
            raise
        finally:
            a.stop()
            shutil.rmtree(root, ignore_errors=True)
    else:
        pytest.fail("pebble reused B's authorization for A's order in 3 of 3 attempts")
