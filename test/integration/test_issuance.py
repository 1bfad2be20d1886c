"""Spec 1 and 3: every https vhost gets a certificate from the CA by itself, and keeps it
across a graceful restart and a stop/start without a new order."""

import re
import time

import pytest

from harness import VHost, verify_served

A = VHost("a.mod-acme.test")
B = VHost("b.mod-acme.test", aliases=["www.b.mod-acme.test", "shop.b.mod-acme.test"])
PLAIN = VHost("plain.mod-acme.test", ssl=False)


@pytest.mark.compat
def test_https_vhosts_get_certificates(httpd_factory, pebble, acme_config, timing):
    t0 = time.monotonic()
    httpd = httpd_factory([A, B, PLAIN], acme_config)
    started = time.monotonic() - t0
    root = pebble.root_file()
    served = {}
    for v in (A, B):
        remaining = max(1.0, 60 - (time.monotonic() - t0))
        cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=remaining, names=v.names)
        served[v.name] = cert
        timing("start -> %s served a pebble certificate" % v.name, time.monotonic() - t0)
        print("%s: %r (httpd accepted connections after %.1f s)" % (v.name, cert, started))
        assert cert.sans == sorted(v.names), "SANs %r, expected exactly %r" % (
            cert.sans, sorted(v.names))
        assert not cert.san_ips
        for n in v.names:
            c = httpd.cert(n)
            assert c.serial == cert.serial, "SNI %s got %r, expected %r" % (n, c, cert)
            # verifying handshake with pebble's root only: httpd must serve the chain
            err = verify_served(httpd.https_port, n, root)
            assert err is None, "verification of %s failed: %s" % (n, err)
            r = httpd.get("/", n, tls=True)
            assert r.status == 200 and ("https %s" % v.name) in r.text, r
    assert served[A.name].serial != served[B.name].serial
    timing("start -> all (2) https vhosts served pebble certificates", time.monotonic() - t0)
    assert re.search(r"graceful restart", httpd.error_log(), re.I), \
        "no log line about the graceful restart that activated the certificates"
    # the plain vhost still serves plain http
    r = httpd.get("/", PLAIN.name)
    assert r.status == 200 and "http plain.mod-acme.test" in r.text, r
    assert httpd.running()


@pytest.mark.compat
def test_certificate_survives_restarts(httpd_factory, pebble, acme_config, timing):
    v = VHost("keep.mod-acme.test", aliases=["www.keep.mod-acme.test"])
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], acme_config)
    cert, waited = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    timing("start -> keep.mod-acme.test served a pebble certificate", waited)
    orders_before = pebble.orders()
    assert orders_before >= 1
    mark = pebble.mark()

    httpd.graceful()
    c = httpd.cert(v.name)
    assert c.serial == cert.serial, "after graceful restart: %r, before: %r" % (c, cert)

    httpd.stop()
    assert not httpd.processes_left()
    httpd.start()
    c = httpd.cert(v.name)
    assert c.serial == cert.serial, "first certificate after stop/start: %r, before: %r" % (
        c, cert)
    r = httpd.get("/", v.name, tls=True)
    assert r.status == 200 and "https keep.mod-acme.test" in r.text, r

    time.sleep(10)  # give the background worker time to (wrongly) order again
    c = httpd.cert(v.name)
    assert c.serial == cert.serial, "10 s after stop/start: %r, before: %r" % (c, cert)
    assert pebble.orders(since=mark) == 0, "new orders after restarts:\n%s" % "\n".join(
        line for line in pebble.log_text()[mark:].splitlines() if "order-plz" in line)
    assert httpd.running()
