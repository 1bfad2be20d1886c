"""Spec 2: until the first certificate arrives the server runs, handshakes with the
self-signed fallback certificate and answers https requests with 503 + Retry-After."""

import os
import re
import time

import harness
from harness import FALLBACK_CN, VHost


def test_fallback_until_certificate(httpd_factory, workdir):
    dead_port = harness.free_port()  # nothing listens here: the CA never answers
    ca_file = harness.make_ca_and_leaf(os.path.join(workdir, "unused-ca"))[0]
    v = VHost("wait.mod-acme.test", aliases=["www.wait.mod-acme.test"])
    plain = VHost("wait-plain.mod-acme.test", ssl=False)
    httpd = httpd_factory([v, plain], harness.acme_lines(
        "https://127.0.0.1:%d/dir" % dead_port, ca_file))

    def check_fallback():
        for n in v.names:
            c = httpd.cert(n)
            assert c.is_fallback, "SNI %s: expected subject CN %r, got %r" % (n, FALLBACK_CN, c)
            assert c.self_signed, c
        for path in ("/", "/index.html", "/some/page?x=1"):
            r = httpd.get(path, v.name, tls=True)
            assert r.status == 503, (path, r)
            assert "being obtained" in r.text, r.text
            assert "text/html" in (r.header("content-type") or ""), r.headers
            ra = r.header("retry-after")
            assert ra and (re.fullmatch(r"\d+", ra.strip()) or "GMT" in ra), \
                "Retry-After: %r" % ra
            if re.fullmatch(r"\d+", ra.strip()):
                assert int(ra) > 0
        r = httpd.get("/", plain.name)
        assert r.status == 200 and "http wait-plain.mod-acme.test" in r.text, r

    check_fallback()
    generations = httpd.generations()
    time.sleep(12)  # the background worker fails against the closed port meanwhile
    assert httpd.running(), httpd.diagnostics()
    check_fallback()
    assert httpd.generations() == generations, \
        "the server restarted although no certificate was obtained"
