"""Issue 12, item 3: what the root parent does not need it does not hold. libcurl (and the
libraries it pulls in: GnuTLS, Kerberos, LDAP, ssh...) is loaded only by the watchdog child
that talks to the CA, never by the parent, whose memory every child inherits."""

import os
import time

import harness
from harness import VHost, server_pids

A = VHost("mem.mod-acme.test")


def maps_libcurl(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("libcurl" in line for line in f)
    except OSError:
        return False


def test_libcurl_only_in_the_watchdog_child(httpd_factory, pebble, acme_config):
    httpd = httpd_factory([A, VHost(A.name, ssl=False)], acme_config)
    httpd.wait_for_cert(A.name, pebble, timeout=60, names=A.names)
    parent = httpd.pid
    assert not maps_libcurl(parent), "the root parent has libcurl mapped"
    # the certificate came from the CA: some child of this generation (or the one before
    # the activation restart) ordered it; after the restart the new watchdog child loads
    # libcurl at its first tick. Bounded wait for it to show.
    end = time.monotonic() + 30
    while True:
        pids = [p for p in server_pids(os.getpgid(parent)) if p != parent]
        with_curl = [p for p in pids if maps_libcurl(p)]
        if with_curl or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert with_curl, "no child of %s has libcurl mapped (children %s)" % (parent, pids)
    assert len(with_curl) < len(pids), \
        "every child has libcurl mapped, not only the watchdog's: %s" % with_curl
    assert not maps_libcurl(parent), "the root parent has libcurl mapped"
    assert httpd.running()


def rss_anon_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon for %d" % pid)


def test_ca_bundle_not_kept_by_the_parent(httpd_factory, workdir):
    """ACMEServerCAFile is checked when the configuration is read (a PEM file with at least
    one certificate): the parsed bundle is given back at once, not kept in the parent's
    heap for the whole generation (that was about 1 MB with Debian's bundle, in the parent
    and in every child it forks). Two starts that differ only in the CA file: one
    certificate, or the same certificate 300 times; nothing is ordered (no CA listens)."""
    one, _ = harness.make_self_signed(os.path.join(workdir, "ca-bundle"),
                                      ["ca-bundle.mod-acme.test"])
    big = os.path.join(workdir, "ca-bundle", "big.pem")
    with open(one) as f:
        pem = f.read()
    with open(big, "w") as f:
        f.write(pem * 300)
    url = "https://127.0.0.1:%d/dir" % harness.free_port()
    anon = {}
    for name, ca in (("one", one), ("big", big)):
        httpd = httpd_factory([A, VHost(A.name, ssl=False)], harness.acme_lines(url, ca))
        harness.wait_for(lambda: httpd.generations() >= 1, 30, what="httpd serving")
        time.sleep(1)       # the restarter and the watchdog start: the same in both
        anon[name] = rss_anon_kb(httpd.pid)
        httpd.stop()
    assert anon["big"] - anon["one"] < 300, \
        "the parent holds %d KB more with 300 CA certificates than with one" % (
            anon["big"] - anon["one"])
