"""ACMEKeyType: the certificate's key type (p256 default, p384, rsa2048/3072/4096); a
changed key type orders a new certificate; bad values fail configtest. Real pebble."""

import re
import subprocess

import pytest

from harness import VHost


def key_description(pem):
    """'id-ecPublicKey ... P-384' or 'rsaEncryption ... (2048 bit)' from openssl."""
    out = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(),
                         capture_output=True, check=True).stdout.decode()
    algo = re.search(r"Public Key Algorithm: (\S+)", out).group(1)
    size = re.search(r"Public-Key: \((\d+) bit\)", out).group(1)
    return algo, int(size)


@pytest.mark.parametrize("keytype,algo,bits", [("rsa2048", "rsaEncryption", 2048),
                                               ("p384", "id-ecPublicKey", 384)])
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
