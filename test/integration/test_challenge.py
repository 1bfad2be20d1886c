"""Spec 5: the http-01 responder. It answers before redirects, access control and rewrites
(so http-01 works on such vhosts) and answers 404 to everything under the prefix that is
not the token of a challenge in progress."""

import time

import pytest

from harness import CHALLENGE_PREFIX, VHost

R, D = "redir.mod-acme.test", "denied.mod-acme.test"

VHOSTS = [
    # plain vhost that redirects everything to https (the first plain vhost: the default one)
    VHost(R, ssl=False, lines=["Redirect permanent / https://%s/" % R]),
    # plain vhost that denies everything and rewrites everything
    VHost(D, ssl=False, aliases=["www." + D], lines=[
        "<Location />", "    Require all denied", "</Location>",
        "RewriteEngine on", "RewriteRule ^ /rewritten.html [L]"]),
    # https twins; the first rewrites everything to its index page
    VHost(R, lines=["RewriteEngine on", "RewriteRule ^ /index.html [L]"]),
    VHost(D, aliases=["www." + D]),
]

TOKEN_CHARS_OK = "dGhpcy1pcy1ub3QtYS10b2tlbi1hdC1hbGwtXw"  # base64url, not a real token
BAD_PATHS = {
    "unknown token": CHALLENGE_PREFIX + TOKEN_CHARS_OK,
    "unknown 256-char token": CHALLENGE_PREFIX + "A" * 256,
    "empty token": CHALLENGE_PREFIX,
    "dotdot": CHALLENGE_PREFIX + "..",
    "dotdot traversal": CHALLENGE_PREFIX + "../../acme/system/secret/secret.key",
    "dotdot into store": CHALLENGE_PREFIX + "../system/fallback/key.pem",
    "encoded slash": CHALLENGE_PREFIX + "abc%2Fdef",
    "encoded slash traversal": CHALLENGE_PREFIX + "..%2F..%2Fsystem%2Fsecret%2Fsecret.key",
    "encoded slash lower": CHALLENGE_PREFIX + "..%2f",
    "overlong token 257": CHALLENGE_PREFIX + "A" * 257,
    "overlong token 2000": CHALLENGE_PREFIX + "B" * 2000,
    "dot": CHALLENGE_PREFIX + "abc.def",
    "plus": CHALLENGE_PREFIX + "abc+def",
    "padding": CHALLENGE_PREFIX + "abc=",
    "space": CHALLENGE_PREFIX + "abc%20def",
    "tilde": CHALLENGE_PREFIX + "abc~def",
    "percent-encoded base64url": CHALLENGE_PREFIX + "%41%42%43",
    "sub path": CHALLENGE_PREFIX + "abc/def",
    "query": CHALLENGE_PREFIX + "abc?x=../../system",
}


def _issue(httpd_factory, pebble, acme_config, which=((R, [R]), (D, [D, "www." + D]))):
    httpd = httpd_factory(VHOSTS, acme_config)
    mark = pebble.mark()
    t0 = time.monotonic()
    certs = {}
    for name, names in which:
        cert, _ = httpd.wait_for_cert(name, pebble, names=names,
                                      timeout=max(1.0, 60 - (time.monotonic() - t0)))
        assert cert.sans == sorted(names), cert
        certs[name] = cert
    return httpd, certs, mark


@pytest.mark.compat
def test_http01_passes_redirect_deny_and_rewrite(httpd_factory, pebble, acme_config):
    httpd, certs, mark = _issue(httpd_factory, pebble, acme_config)
    for n in (R, D, "www." + D):
        assert pebble.count(r"Attempting to validate w/ HTTP: http://%s:" % n.replace(".", r"\."),
                            since=mark) >= 1, "pebble did not validate %s with http-01" % n
    # the vhosts' own rules are in effect for everything else
    r = httpd.get("/", R)
    assert r.status == 301 and r.header("location") == "https://%s/" % R, r
    r = httpd.get("/.well-known/other", R)
    assert r.status == 301, r
    r = httpd.get("/", D)
    assert r.status == 403, r
    r = httpd.get("/anything", R, tls=True)
    assert r.status == 200 and ("https %s" % R) in r.text, r
    print("certificates: %r" % certs)


def test_responder_answers_404_to_everything_else(httpd_factory, pebble, acme_config):
    # https probes go to a vhost that has its certificate (before, every https request is 503)
    httpd, _, _ = _issue(httpd_factory, pebble, acme_config, which=((R, [R]),))
    targets = [("http", R), ("http", D), ("http", "unknown.mod-acme.test"), ("https", R)]
    failures = []
    for what, path in BAD_PATHS.items():
        for scheme, host in targets:
            try:
                r = httpd.get(path, host, tls=(scheme == "https"))
            except Exception as exc:  # noqa: BLE001
                failures.append("%s %s://%s%s: %r" % (what, scheme, host, path[:80], exc))
                continue
            if r.status != 404:
                failures.append("%s: %s://%s%s -> %d (expected 404)" % (
                    what, scheme, host, path[:80], r.status))
            if b"PRIVATE KEY" in r.body or b"ACMESEAL" in r.body:
                failures.append("%s: %s://%s%s leaked key material" % (
                    what, scheme, host, path[:80]))
    assert not failures, "\n".join(failures)
    assert httpd.running()
