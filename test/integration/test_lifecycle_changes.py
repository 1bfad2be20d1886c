"""Issue 3, test 5: configuration changes. Adding an alias orders a certificate for the new
name set (same id), a vhost removed from the config has its certificate archived (not
deleted), and changing ACMEServer orders a new certificate from the new CA URL.

The second CA URL is the TEST-ONLY proxy (acme_proxy.py) in front of the same pebble: a
different directory URL is a different CA for the module, while pebble still issues (and
logs) the order. ARI is off in the proxy, so it only forwards and records here."""

import json
import os
import time

import harness
from harness import VHost, norm_serial, store_certs


def test_alias_added_and_vhost_removed(pebble, httpd_factory, timing):
    x = VHost("change.mod-acme.test")
    y = VHost("gone.mod-acme.test")
    httpd = httpd_factory([x, y], harness.acme_lines(pebble, pebble.ca_file))
    t0 = time.monotonic()
    x1, _ = httpd.wait_for_cert(x.name, pebble, timeout=60, names=x.names)
    y1, _ = httpd.wait_for_cert(y.name, pebble, timeout=max(1, 60 - (time.monotonic() - t0)),
                                names=y.names)
    live_y = os.path.join(httpd.store, "live", y.name)
    assert norm_serial(y1.serial) in store_certs(live_y)
    time.sleep(1)
    mark = pebble.mark()

    x2v = VHost(x.name, aliases=["www." + x.name])
    httpd.vhosts = [x2v]
    httpd.write_config()
    httpd.graceful()
    t_reload = time.monotonic()

    # y: its live set moved to archive/<id>/<timestamp>/ by this restart
    httpd.wait_for(lambda: not os.path.exists(live_y), 10,
                   what="live/%s gone after the restart without its vhost" % y.name)
    archived = store_certs(os.path.join(httpd.store, "archive", y.name))
    assert norm_serial(y1.serial) in archived, \
        "serial %s of the removed vhost not under archive/%s/: %r" % (y1.serial, y.name, archived)

    # x: a new certificate for the new name set, same id
    x2, waited = httpd.wait_for_cert(x.name, pebble, timeout=60, not_serial=x1.serial,
                                     names=x2v.names)
    timing("alias added -> certificate with the new SAN set served", time.monotonic() - t_reload)
    assert x2.sans == sorted(x2v.names), x2
    assert httpd.cert("www." + x.name).serial == x2.serial
    assert pebble.orders(since=mark) == 1, "%d orders after adding one alias" % pebble.orders(
        since=mark)
    assert norm_serial(x2.serial) in store_certs(os.path.join(httpd.store, "live", x.name))
    assert norm_serial(x1.serial) in store_certs(os.path.join(httpd.store, "archive", x.name)), \
        "the replaced certificate of %s is not archived" % x.name
    assert not os.path.exists(os.path.join(httpd.store, "live", y.name))


def test_acme_server_changed(pebble, proxy_factory, httpd_factory, timing):
    v = VHost("switch.mod-acme.test")
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file))
    c1, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    time.sleep(1)
    proxy = proxy_factory(pebble, ari=False)
    mark = pebble.mark()
    httpd.acme_lines = harness.acme_lines(proxy.directory_url, pebble.ca_file)
    httpd.write_config()
    httpd.graceful()
    t_reload = time.monotonic()
    c2, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, not_serial=c1.serial,
                                names=v.names)
    timing("ACMEServer changed -> new certificate served", time.monotonic() - t_reload)
    orders = proxy.new_orders()
    print("after the ACMEServer change: %d newOrder via the new URL, pebble saw %d" % (
        len(orders), pebble.orders(since=mark)))
    assert len(orders) == 1 and orders[0].status == 201, proxy.summary()
    assert pebble.orders(since=mark) == 1
    assert norm_serial(c1.serial) in store_certs(os.path.join(httpd.store, "archive", v.name))
    # and it stays: no further order once the certificate from the new CA is live
    time.sleep(3)
    assert len(proxy.new_orders()) == 1 and pebble.orders(since=mark) == 1


def test_acmectl_renew_survives_graceful_restart(pebble, proxy_factory, httpd_factory, timing):
    """`acmectl renew`, then a graceful restart while that renewal's order hangs in finalize:
    the request stays pending (file, acmectl show, status page) and the new generation
    carries it out; the request file goes once the new certificate is live.

    Uses the TEST-ONLY proxy (acme_proxy.py) in front of the real pebble to make finalize
    hang ("hang" fault) so that the restart lands in the middle of the order."""
    import test_acmectl as ctl
    v = VHost("asked.mod-acme.test")
    proxy = proxy_factory(pebble, ari=False)
    httpd = httpd_factory([v], harness.acme_lines(proxy.directory_url, pebble.ca_file))
    c1, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    time.sleep(1)
    req = os.path.join(httpd.store, "orders", v.name, "renew.request")

    proxy.fault_hang = 20
    fault = proxy.fault(v.name, "hang")
    t0 = time.monotonic()
    res = ctl.acmectl("renew", v.name, store=httpd.store)
    assert res.returncode == 0, res
    httpd.wait_for(lambda: fault.hits >= 1, 60, what="the renewal's finalize (hanging)")
    timing("acmectl renew -> order in finalize", time.monotonic() - t0)
    gens = httpd.generations()
    httpd.graceful()
    assert httpd.generations() > gens

    # after the restart, the request is still there and shown as pending
    assert os.path.exists(req), "the renewal request was lost by the restart"
    res = ctl.acmectl("--json", "show", v.name, store=httpd.store)
    shown = json.loads(res.stdout)
    assert shown["renew_requested"] is True and shown["renew_requested_at"], shown
    assert shown["next_action"]["action"] in ("renew", "activate"), shown
    assert httpd.cert(v.name).serial == c1.serial

    proxy.clear_fault(v.name)
    c2, _ = httpd.wait_for_cert(v.name, pebble, timeout=120, not_serial=c1.serial,
                                names=v.names)
    timing("restart mid-order -> requested certificate served", time.monotonic() - t0)
    httpd.wait_for(lambda: not os.path.exists(req), 30,
                   what="the renewal request removed once the new certificate is live")
    res = ctl.acmectl("--json", "show", v.name, store=httpd.store)
    shown = json.loads(res.stdout)
    assert shown["renew_requested"] is False and shown["renew_requested_at"] is None, shown
    assert shown["next_action"]["action"] == "none", shown
    assert "renewal requested with acmectl" in httpd.error_log()
