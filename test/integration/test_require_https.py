"""Issue 11, tests 7 and 8, with real pebble.

7: ACMERequireHttps. Once a certificate is live, plain-http requests for its names are
redirected to https (301 permanent, 302 temporary) with the host, the mapped port
(ACMEPortMap), the path and the query kept; `permanent` sends HSTS max-age=5184000 on https;
the http-01 challenge path still answers on http (a renewal by http-01 only is checked);
`off` (the default) changes nothing; nothing changes while only the fallback serves.

8: Debian's default-ssl: a vhost with its own SSLCertificateFile/KeyFile (snakeoil files
generated here) and an explicit `ACME on` in it is taken over (a notice names the files)
and serves a pebble certificate; a vhost with its own files and no `ACME on` of its own is
left alone, and so is one with `ACME on` but no name a CA could certify."""

import os
import re
import subprocess
import time

import harness
from harness import VHost

HSTS = "Strict-Transport-Security"
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))


def redirect_of(httpd, path, host, host_header=None):
    headers = {"Host": host_header} if host_header else None
    r = httpd.get(path, host, headers=headers)
    return r.status, r.header("Location")


def test_redirects_and_hsts(httpd_factory, pebble_factory, ports):
    # no reuse of valid authorizations: the renewal below must validate again over http
    pebble = pebble_factory(env={"PEBBLE_AUTHZREUSE": "0"})
    acme_config = harness.acme_lines(pebble, pebble.ca_file)
    perm = VHost("perm.https.mod-acme.test", aliases=["www.perm.https.mod-acme.test"],
                 lines=["ACMERequireHttps permanent"])
    temp = VHost("temp.https.mod-acme.test", lines=["ACMERequireHttps temporary"])
    off = VHost("off.https.mod-acme.test")
    vhosts = []
    for v in (perm, temp, off):
        vhosts += [v, VHost(v.name, aliases=v.aliases, ssl=False)]
    http_port, https_port = ports
    httpd = httpd_factory(vhosts, acme_config + [
        "ACMEPortMap 80:%d 443:%d" % (http_port, https_port), "ACMEChallenges http-01"])
    for v in (perm, temp, off):
        httpd.wait_for_cert(v.name, pebble, timeout=90, names=v.names)
    # the certificates go live with a graceful restart: wait until the redirect is there
    httpd.wait_for(lambda: redirect_of(httpd, "/", perm.name)[0] == 301, 30,
                   what="http -> https redirect of %s" % perm.name)

    # permanent: 301; host, path (as sent) and query kept
    path = "/dir/a%20b.html?x=1&y=%2F"
    assert redirect_of(httpd, path, perm.name) == (
        301, "https://%s/dir/a%%20b.html?x=1&y=%%2F" % perm.name)
    assert redirect_of(httpd, "/", "www." + perm.name) == (301, "https://www.%s/" % perm.name)
    # the client talks to the local port public 80 reaches: it gets the local https port
    assert redirect_of(httpd, path, perm.name, "%s:%d" % (perm.name, http_port)) == (
        301, "https://%s:%d/dir/a%%20b.html?x=1&y=%%2F" % (perm.name, https_port))
    r = httpd.get("/", perm.name, tls=True)
    assert r.status == 200 and "https %s" % perm.name in r.text, r
    assert r.header(HSTS) == "max-age=5184000", r.headers
    r = httpd.get("/nothing-here", perm.name, tls=True)       # error responses too
    assert r.status == 404 and r.header(HSTS) == "max-age=5184000", r.headers
    # the challenge path is never redirected: an unknown token is the responder's 404
    r = httpd.get("/.well-known/acme-challenge/unknownToken123", perm.name)
    assert r.status == 404 and r.header("Location") is None, r
    # a name no certificate has, on the same port: untouched
    r = httpd.get("/", "127.0.0.1")
    assert r.status == 200 and r.header("Location") is None, r

    # temporary: 302, no HSTS
    assert redirect_of(httpd, "/p?q", temp.name) == (302, "https://%s/p?q" % temp.name)
    r = httpd.get("/", temp.name, tls=True)
    assert r.status == 200 and r.header(HSTS) is None, r.headers

    # off (default): plain http serves, no HSTS
    r = httpd.get("/", off.name)
    assert r.status == 200 and "http %s" % off.name in r.text and r.header("Location") is None
    r = httpd.get("/", off.name, tls=True)
    assert r.status == 200 and r.header(HSTS) is None, r.headers

    # a renewal by http-01 only: pebble fetches the challenge on http and gets the response
    first = httpd.cert(perm.name)
    with open(httpd.access_log_file, "rb") as f:
        mark = len(f.read())
    res = subprocess.run([ACMECTL, "--store", httpd.store, "renew", perm.name],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    httpd.wait_for_cert(perm.name, pebble, timeout=90, not_serial=first.serial,
                        names=perm.names)
    with open(httpd.access_log_file, "rb") as f:
        log = f.read()[mark:].decode("utf-8", "replace")
    answers = re.findall(r'"GET /\.well-known/acme-challenge/\S+ HTTP/1\.[01]" (\d+)', log)
    assert answers and set(answers) == {"200"}, log
    assert httpd.running()


def test_nothing_while_only_the_fallback_serves(httpd_factory, pebble):
    """The CA is a closed port: no certificate ever goes live."""
    v = VHost("fallback.https.mod-acme.test")
    dead = "https://127.0.0.1:%d/dir" % harness.free_port()
    httpd = httpd_factory([v, VHost(v.name, ssl=False)],
                          harness.acme_lines(dead, pebble.ca_file,
                                             extra=["ACMERequireHttps permanent"]))
    assert httpd.cert(v.name).is_fallback
    r = httpd.get("/?y", v.name)
    assert r.status == 200 and "http %s" % v.name in r.text and r.header("Location") is None, r
    r = httpd.get("/", v.name, tls=True)
    assert r.status == 503 and r.header(HSTS) is None, r.headers
    assert httpd.running()


def test_bad_value_fails_configtest(httpd_factory, acme_config):
    v = VHost("bad.https.mod-acme.test", lines=["ACMERequireHttps yes"])
    httpd = httpd_factory([v], acme_config, start=False)
    rc, out = httpd.configtest()
    assert rc != 0 and "ACMERequireHttps" in out and "temporary" in out, out


def snakeoil(directory, cn):
    """A self-signed certificate and key like Debian's make-ssl-cert writes."""
    os.makedirs(directory, exist_ok=True)
    pem, key = os.path.join(directory, "ssl-cert-snakeoil.pem"), \
        os.path.join(directory, "ssl-cert-snakeoil.key")
    subprocess.run([harness.OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                    "3650", "-subj", "/CN=%s" % cn, "-keyout", key, "-out", pem],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return pem, key


def test_default_ssl_taken_over_by_acme_on(httpd_factory, pebble, tmp_path):
    pem, key = snakeoil(str(tmp_path / "debian"), "debian-host")
    own_pem, own_key = snakeoil(str(tmp_path / "own"), "own-host")
    files = ['SSLCertificateFile "%s"' % pem, 'SSLCertificateKeyFile "%s"' % key]
    # default-ssl's shape: its own snakeoil files, and the admin wrote ACME on in it
    dflt = VHost("default-ssl.https.mod-acme.test", lines=["ServerAdmin webmaster@localhost"]
                 + files + ["ACME on"])
    # its own certificate, no ACME line of its own (ACME on is only server-wide): untouched
    own = VHost("own.https.mod-acme.test",
                lines=['SSLCertificateFile "%s"' % own_pem, 'SSLCertificateKeyFile "%s"' % own_key])
    # ACME on, but no name a CA could certify: it keeps its own files (no 503 for ever)
    nodot = VHost("nodot-host", lines=['SSLCertificateFile "%s"' % own_pem,
                                       'SSLCertificateKeyFile "%s"' % own_key, "ACME on"])
    httpd = httpd_factory([dflt, VHost(dflt.name, ssl=False), own, nodot], harness.acme_lines(
        pebble, pebble.ca_file))
    rc, out = httpd.configtest()
    assert rc == 0, out
    cert, _ = httpd.wait_for_cert(dflt.name, pebble, timeout=90, names=dflt.names)
    assert cert.subject_cn != "debian-host"
    r = httpd.get("/", dflt.name, tls=True)
    assert r.status == 200 and "https %s" % dflt.name in r.text, r
    lines = [l for l in httpd.error_log().splitlines() if "ACME00560" in l]
    assert lines and pem in lines[0] and key in lines[0], lines
    c = httpd.cert(own.name)
    assert c.subject_cn == "own-host", c
    c = httpd.cert(nodot.name)
    assert c.subject_cn == "own-host", c
    r = httpd.get("/", nodot.name, tls=True)
    assert r.status == 200 and "https %s" % nodot.name in r.text, r
    assert "ACME00563" in httpd.error_log()
    assert "own.https.mod-acme.test" not in os.listdir(os.path.join(httpd.store, "live"))
    assert httpd.running()
