"""ACMEKeyType: the certificate's key type (p256 default, p384, rsa2048/3072/4096); a
changed key type orders a new certificate; bad values fail configtest. ACMEKeyTypes: one
certificate per listed type for the same names, each served to the clients that can use it
(mod_ssl picks per client); a changed list orders what is missing and archives what is no
longer listed. Real pebble."""

import json
import os
import re
import subprocess

import pytest

import harness
import status_helpers as sh
from harness import VHost

ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))

# A client that can verify only RSA signatures, and one that can verify only ECDSA ones:
# TLS 1.3 (signature algorithms) and TLS 1.2 (the cipher's authentication).
RSA_CLIENTS = [["-tls1_3", "-sigalgs", "RSA-PSS+SHA256:rsa_pkcs1_sha256"],
               ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]]
EC_CLIENTS = [["-tls1_3", "-sigalgs", "ECDSA+SHA256:ECDSA+SHA384"],
              ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]]


def key_description(pem):
    """'id-ecPublicKey ... P-384' or 'rsaEncryption ... (2048 bit)' from openssl."""
    out = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(),
                         capture_output=True, check=True).stdout.decode()
    algo = re.search(r"Public Key Algorithm: (\S+)", out).group(1)
    size = re.search(r"Public-Key: \((\d+) bit\)", out).group(1)
    return algo, int(size)


@pytest.mark.parametrize("keytype,algo,bits", [("rsa2048", "rsaEncryption", 2048),
                                               ("p384", "id-ecPublicKey", 384),
                                               ("rsa3072", "rsaEncryption", 3072),
                                               ("rsa4096", "rsaEncryption", 4096)])
def test_key_type_served(httpd_factory, pebble, acme_config, keytype, algo, bits):
    v = VHost("kt-%s.mod-acme.test" % keytype)
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], acme_config + ["ACMEKeyType " + keytype])
    cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    assert key_description(cert.pem) == (algo, bits), key_description(cert.pem)


def test_key_type_change_orders_new_certificate(httpd_factory, pebble, acme_config):
    v = VHost("kt-change.mod-acme.test")
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], acme_config)
    cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    assert key_description(cert.pem) == ("id-ecPublicKey", 256)
    mark = pebble.mark()
    httpd.acme_lines = list(httpd.acme_lines) + ["ACMEKeyType rsa2048"]
    httpd.write_config()
    httpd.graceful()
    new = httpd.wait_for(lambda: (lambda c: c if c.serial != cert.serial else None)(
        httpd.cert(v.name)), 60, what="a new certificate after ACMEKeyType changed")
    assert key_description(new.pem) == ("rsaEncryption", 2048)
    assert pebble.orders(since=mark) == 1


@pytest.mark.parametrize("bad", ["ACMEKeyType rsa1024", "ACMEKeyType ed25519",
                                 "ACMEKeyType"])
def test_bad_key_type_fails_configtest(httpd_factory, acme_config, bad):
    v = VHost("kt-bad.mod-acme.test")
    httpd = httpd_factory([v], acme_config + [bad], start=False)
    rc, out = httpd.configtest()
    assert rc != 0 and "ACMEKeyType" in out and "line %d of" % httpd.line_of(bad) in out, out


def served_with(port, sni, client_args, timeout=10):
    """The leaf (CertInfo) `openssl s_client` with client_args is served, or None when the
    handshake fails (no certificate the client can use)."""
    try:
        res = subprocess.run([harness.OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                              "-servername", sni] + client_args, input=b"",
                             capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    pem = harness.first_pem_cert(res.stdout.decode("utf-8", "replace"))
    return harness.CertInfo(pem) if pem else None


def pebble_cert(httpd, pebble, name, clients, want):
    """The pebble certificate every client in clients is served for name, once each is served
    one with key description `want` (the same one to all); None until then."""
    got = None
    for args in clients:
        c = served_with(httpd.https_port, name, args)
        if c is None or c.is_fallback or c.self_signed or key_description(c.pem) != want:
            return None
        if got is not None and c.serial != got.serial:
            raise harness.WaitAbort("two %r certificates served for %s: %s and %s"
                                    % (want, name, got.serial, c.serial))
        got = c
    ok, out = harness.verify(got, pebble.roots())
    if not ok:
        raise harness.WaitAbort("the served certificate does not verify: %s" % out)
    return got


def live_meta(httpd, cert_id):
    with open(os.path.join(httpd.store, "live", cert_id, "meta.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("types,first,second", [
    ("p256 rsa2048", ("id-ecPublicKey", 256), ("rsaEncryption", 2048)),
    ("rsa3072 p384", ("rsaEncryption", 3072), ("id-ecPublicKey", 384)),
])
def test_dual_certificates_picked_per_client(httpd_factory, pebble, acme_config, types, first,
                                             second):
    """Tests 1 and 2 of issue 11: with ACMEKeyTypes of an ECDSA and an RSA type (in the
    vhost), both certificates are ordered and served for the same names: an RSA-only client
    gets the RSA one, an ECDSA-only client the ECDSA one (TLS 1.3 and TLS 1.2)."""
    v = VHost("kt-dual-%s.mod-acme.test" % types.replace(" ", "-"),
              aliases=("www.kt-dual.mod-acme.test",), lines=["ACMEKeyTypes " + types])
    httpd = httpd_factory([v, VHost(v.name, aliases=v.aliases, ssl=False), sh.status_vhost()],
                          acme_config)
    rsa_want = first if first[0] == "rsaEncryption" else second
    ec_want = second if rsa_want is first else first
    rsa = httpd.wait_for(lambda: pebble_cert(httpd, pebble, v.name, RSA_CLIENTS, rsa_want),
                         120, interval=0.5, what="the RSA certificate served to RSA clients")
    ec = httpd.wait_for(lambda: pebble_cert(httpd, pebble, v.name, EC_CLIENTS, ec_want),
                        120, interval=0.5, what="the ECDSA certificate served to ECDSA clients")
    assert rsa.serial != ec.serial
    assert rsa.sans == ec.sans == sorted(v.names), (rsa.sans, ec.sans)
    # the first listed type keeps the plain id, the second is <id>+<type>
    second_type = types.split()[1]
    assert live_meta(httpd, v.name)["key"] == types.split()[0]
    assert live_meta(httpd, v.name + "+" + second_type)["key"] == second_type
    # a client that can use either gets one of the two, never the fallback
    c = httpd.cert(v.name)
    assert c.serial in (rsa.serial, ec.serial), c
    # acmectl shows each certificate with its key type
    res = subprocess.run([ACMECTL, "--store", httpd.store, "--json", "list"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    listed = {c["id"]: c for c in json.loads(res.stdout)
              ["certificates"]}
    assert set(listed) >= {v.name, v.name + "+" + second_type}, res.stdout
    assert listed[v.name + "+" + second_type]["key"] == second_type, res.stdout
    res = subprocess.run([ACMECTL, "--store", httpd.store, "show", v.name + "+" + second_type],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "Key Type: %s" % second_type in res.stdout, res
    # and so does the status page, each with its own serial
    _, j = sh.status_json(httpd)
    shown = {c["id"]: c for c in j["certificates"]}
    assert shown[v.name]["key"] == types.split()[0], j
    assert shown[v.name + "+" + second_type]["key"] == second_type, j
    assert {harness.norm_serial(shown[i].get("serial")) for i in (v.name, v.name + "+" +
            second_type)} == {harness.norm_serial(rsa.serial), harness.norm_serial(ec.serial)}, j
    # renew with a domain asks for every certificate holding it
    res = subprocess.run([ACMECTL, "--store", httpd.store, "renew", v.aliases[0]],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    assert "%s: renewal requested" % v.name in res.stdout, res.stdout
    assert "%s+%s: renewal requested" % (v.name, second_type) in res.stdout, res.stdout


def test_key_types_list_changes(httpd_factory, pebble, acme_config):
    """Adding a type to ACMEKeyTypes orders only that certificate (the other keeps serving
    with its serial); removing it archives its certificate (no RSA certificate is served any
    more, nothing new is ordered)."""
    v = VHost("kt-change-list.mod-acme.test")
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], acme_config + ["ACMEKeyTypes p256"])
    ec, _ = httpd.wait_for_cert(v.name, pebble, timeout=90, names=v.names)
    assert key_description(ec.pem) == ("id-ecPublicKey", 256)
    assert served_with(httpd.https_port, v.name, RSA_CLIENTS[0]) is None or \
        key_description(served_with(httpd.https_port, v.name, RSA_CLIENTS[0]).pem)[0] != \
        "rsaEncryption"

    mark = pebble.mark()
    httpd.acme_lines = [line for line in httpd.acme_lines if not line.startswith("ACMEKeyTypes")] \
        + ["ACMEKeyTypes p256 rsa2048"]
    httpd.write_config()
    httpd.graceful()
    rsa = httpd.wait_for(lambda: pebble_cert(httpd, pebble, v.name, RSA_CLIENTS,
                                             ("rsaEncryption", 2048)),
                         120, interval=0.5, what="the added RSA certificate")
    again = pebble_cert(httpd, pebble, v.name, EC_CLIENTS, ("id-ecPublicKey", 256))
    assert again is not None and again.serial == ec.serial, (again, ec)
    assert pebble.orders(since=mark) == 1
    assert rsa.sans == ec.sans

    mark = pebble.mark()
    logmark = httpd.log_mark()
    httpd.acme_lines = [line for line in httpd.acme_lines if not line.startswith("ACMEKeyTypes")] \
        + ["ACMEKeyTypes p256"]
    httpd.write_config()
    httpd.graceful()
    gone = v.name + "+rsa2048"
    httpd.wait_for(lambda: not os.path.exists(os.path.join(httpd.store, "live", gone)), 30,
                   what="live/%s archived" % gone)
    assert os.listdir(os.path.join(httpd.store, "archive", gone)), "nothing archived"
    assert httpd.log_entries(r"ACME00014: certificate %s is used by no" % re.escape(gone),
                             since=logmark), httpd.diagnostics()
    c = served_with(httpd.https_port, v.name, RSA_CLIENTS[0])
    assert c is None or key_description(c.pem)[0] != "rsaEncryption", c
    assert pebble_cert(httpd, pebble, v.name, EC_CLIENTS,
                       ("id-ecPublicKey", 256)).serial == ec.serial
    assert pebble.orders(since=mark) == 0


@pytest.mark.parametrize("bad,why", [
    ("ACMEKeyTypes p256 p384", "both ECDSA"),
    ("ACMEKeyTypes rsa2048 rsa4096", "both RSA"),
    ("ACMEKeyTypes p256 p256", "listed twice"),
    ("ACMEKeyTypes p256 rsa1024", "'rsa1024' is not a key type"),
    ("ACMEKeyTypes", "at least one"),
])
def test_bad_key_types_fail_configtest(httpd_factory, acme_config, bad, why):
    v = VHost("kt-bad-list.mod-acme.test")
    httpd = httpd_factory([v], acme_config + [bad], start=False)
    rc, out = httpd.configtest()
    assert rc != 0 and "ACMEKeyTypes: " in out and why in out, out
    assert "line %d of" % httpd.line_of(bad) in out, out


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_dual_certificates_no_failed_attempt(httpd_factory, pebble, acme_config, challenge):
    """Both certificates of one name set are ordered in the same run, for the same names: with
    either challenge type neither attempt fails (the two orders' challenge answers for the
    same name do not replace each other)."""
    v = VHost("kt-race-%s.mod-acme.test" % challenge, aliases=("www.kt-race.mod-acme.test",),
              lines=["ACMEKeyTypes p256 rsa2048", "ACMEChallenges " + challenge])
    httpd = httpd_factory([v, VHost(v.name, aliases=v.aliases, ssl=False)], acme_config)
    httpd.wait_for(lambda: pebble_cert(httpd, pebble, v.name, RSA_CLIENTS,
                                       ("rsaEncryption", 2048)), 120, interval=0.5,
                   what="the RSA certificate")
    httpd.wait_for(lambda: pebble_cert(httpd, pebble, v.name, EC_CLIENTS,
                                       ("id-ecPublicKey", 256)), 120, interval=0.5,
                   what="the ECDSA certificate")
    failed = [l for _, l in httpd.log_entries(r"ACME00034: driver run: .*[1-9]\d* failed")]
    assert not failed, "\n".join(failed) + "\n" + httpd.diagnostics()
