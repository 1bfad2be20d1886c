"""Issue 12, item 3: what the root parent does not need it does not hold. libcurl (and the
libraries it pulls in: GnuTLS, Kerberos, LDAP, ssh...) is loaded only by the watchdog child
that talks to the CA, never by the parent, whose memory every child inherits."""

import os
import time

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
