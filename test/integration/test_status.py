"""Issue 5, tests 1 and 2: server-status (HTML and ?auto), acme-status JSON and acme-metrics
for one valid, one erroring (pebble's domain blocklist) and one pending certificate; the
values match what is served; no secret in any output or in the error log.

The pending certificate stays pending because the test holds the driver's store lock while
the server restarts with its vhost added: the server then obtains nothing, and records no
failure either."""

import re
import time

from harness import VHost
import status_helpers as sh

OK = VHost("ok.mod-acme.test", aliases=["www.ok.mod-acme.test"])
BAD = VHost("bad.mod-acme.test")
PENDING = VHost("pending.mod-acme.test")
STATES = ("obtaining", "valid", "renewing", "error")


def _wait_error(httpd, cert_id, timeout=30):
    def failed():
        _, j = sh.status_json(httpd, cert_id)
        c = j["certificates"][0]
        return c if c["state"] == "error" else None
    return httpd.wait_for(failed, timeout, interval=0.5, what="%s in state error" % cert_id)


def test_status_outputs(httpd_factory, pebble_factory, timing):
    import harness
    t0 = time.monotonic()
    pebble = pebble_factory(blocklist=[BAD.name])
    lines = harness.acme_lines(pebble, pebble.ca_file)
    httpd = httpd_factory([OK, BAD, sh.status_vhost()], lines)
    served, _ = httpd.wait_for_cert(OK.name, pebble, timeout=60, names=OK.names)
    _wait_error(httpd, BAD.name)
    httpd.wait_for(lambda: not harness.os.listdir(harness.os.path.join(httpd.store, "staging")),
                   30, what="staging empty after activation")
    timing("status: valid + error certificates", time.monotonic() - t0)

    with sh.driver_lock(httpd.store):
        httpd.vhosts.insert(2, PENDING)
        httpd.write_config()
        httpd.graceful()
        assert httpd.cert(OK.name).serial == served.serial

        # ---- acme-status JSON
        status, j = sh.status_json(httpd)
        assert status == 200
        assert j["version"] == 1
        by_id = {c["id"]: c for c in j["certificates"]}
        assert set(by_id) == {OK.name, BAD.name, PENDING.name}, by_id.keys()
        keys = {"id", "names", "key", "ca", "state", "valid_from", "valid_until", "serial",
                "next_action", "last_error", "failures", "staged", "activation_blocked",
                "renewal_requested", "ari_window", "chain"}
        keys |= {"profile", "profile_fallback"}
        keys |= {"dns_persist_records"}
        for c in by_id.values():
            assert set(c) == keys, c
            assert set(c["next_action"]) == {"action", "when", "reason"}
            assert c["ca"] == pebble.directory_url and c["key"] == "p256"
            assert c["dns_persist_records"] == []  # no ACMEChallenges dns-persist-01 here

        ok = by_id[OK.name]
        assert ok["state"] == "valid", ok
        assert ok["names"] == sorted(OK.names)
        assert sh.serial_eq(ok["serial"], served.serial), (ok, served)
        assert sh.rfc3339_to_epoch(ok["valid_until"]) == served.not_after
        assert sh.rfc3339_to_epoch(ok["valid_from"]) == served.not_before
        assert ok["last_error"] is None and ok["failures"] == 0 and ok["staged"] is False
        assert ok["next_action"]["action"] == "none"
        assert sh.rfc3339_to_epoch(ok["next_action"]["when"]) > time.time()
        assert "renews from" in ok["next_action"]["reason"]

        bad = by_id[BAD.name]
        assert bad["state"] == "error", bad
        assert bad["failures"] >= 1 and bad["serial"] is None and bad["valid_until"] is None
        err = bad["last_error"]
        assert set(err) == {"type", "detail", "hint", "at"}
        assert err["type"] == "urn:ietf:params:acme:error:rejectedIdentifier", err
        assert err["hint"], err   # what the admin can do, from the problem table
        assert err["detail"] and abs(sh.rfc3339_to_epoch(err["at"]) - time.time()) < 300
        assert bad["next_action"]["action"] == "retry"
        assert sh.rfc3339_to_epoch(bad["next_action"]["when"]) >= sh.rfc3339_to_epoch(err["at"])

        pend = by_id[PENDING.name]
        assert pend["state"] == "obtaining", pend
        assert pend["serial"] is None and pend["last_error"] is None and pend["failures"] == 0
        assert pend["next_action"]["action"] == "obtain"
        assert set(j["driver"]) == {"attempts", "staged", "failed", "acme_requests", "last_run"}
        assert j["driver"]["attempts"] >= 2 and j["driver"]["failed"] >= 1
        assert j["driver"]["staged"] >= 1 and j["driver"]["acme_requests"] > 5

        # one certificate by id or by any of its names; unknown names: 404 JSON
        for name in (OK.name, "www.ok.mod-acme.test", "WWW.OK.mod-acme.test"):
            status, one = sh.status_json(httpd, name)
            assert status == 200 and [c["id"] for c in one["certificates"]] == [OK.name]
        status, nf = sh.status_json(httpd, "nope.mod-acme.test")
        assert status == 404 and "error" in nf
        assert sh.get(httpd, "/acme-status/a/b").status == 404
        r = httpd.get("/acme-status", sh.STATUS_HOST, method="POST")
        assert r.status == 405, r

        # ---- server-status ?auto
        r = sh.get(httpd, "/server-status?auto")
        assert r.status == 200, r
        a = sh.parse_auto(r.text, OK.name)
        assert a["state"] == "valid" and sh.serial_eq(a["serial"], served.serial), a
        assert int(a["not_after"]) == served.not_after and int(a["not_before"]) == served.not_before
        assert a["names"] == ",".join(sorted(OK.names)) and a["key"] == "p256"
        b = sh.parse_auto(r.text, BAD.name)
        assert b["state"] == "error" and int(b["failures"]) >= 1, b
        assert b["last_error_type"] == err["type"] and b["last_error_detail"] == err["detail"]
        assert sh.parse_auto(r.text, PENDING.name)["state"] == "obtaining"
        assert re.search(r"^ACMEOrders: \d+$", r.text, re.M)
        auto_text = r.text

        # ---- server-status HTML
        r = sh.get(httpd, "/server-status")
        assert r.status == 200 and "<h2>ACME certificates</h2>" in r.text, r
        section = r.text.split("<h2>ACME certificates</h2>", 1)[1]
        for cid, state in ((OK.name, "valid"), (BAD.name, "error"), (PENDING.name, "obtaining")):
            row = [tr for tr in section.split("<tr>") if ("<td>%s</td>" % cid) in tr]
            assert row and ("<td>%s</td>" % state) in row[0], (cid, state, row)
        assert served.serial.lstrip("0") in section
        assert "rejectedIdentifier" in section
        html_text = r.text

        # ---- acme-metrics
        r = sh.get(httpd, "/metrics")
        assert r.status == 200
        assert r.header("content-type").startswith("text/plain; version=0.0.4"), r.headers
        s = sh.parse_metrics(r.text)
        assert sh.metric(s, "acme_certificate_not_after_seconds", name=OK.name,
                         key="p256") == served.not_after
        assert sh.metric(s, "acme_certificate_not_before_seconds",
                         name=OK.name) == served.not_before
        nxt = sh.metric(s, "acme_certificate_next_renewal_seconds", name=OK.name)
        assert served.not_before < nxt < served.not_after
        last = sh.metric(s, "acme_certificate_last_success_seconds", name=OK.name)
        assert abs(last - time.time()) < 600
        assert sh.metric(s, "acme_certificate_consecutive_failures", name=BAD.name) >= 1
        assert sh.metric(s, "acme_certificate_consecutive_failures", name=OK.name) == 0
        for cid, want in ((OK.name, "valid"), (BAD.name, "error"), (PENDING.name, "obtaining")):
            for st in STATES:
                v = sh.metric(s, "acme_certificate_state", name=cid, state=st)
                assert v == (1 if st == want else 0), (cid, st, v)
        assert sh.metric(s, "acme_certificate_not_after_seconds", name=PENDING.name) is None
        assert sh.metric(s, "acme_orders_total") == j["driver"]["attempts"]
        assert sh.metric(s, "acme_order_failures_total") == j["driver"]["failed"]
        assert sh.metric(s, "acme_requests_total") == j["driver"]["acme_requests"]
        metrics_text = r.text

    # ---- test 2: nothing secret anywhere
    secrets = sh.secrets_of(httpd.store)
    assert len(secrets) > 5, secrets
    _, full = sh.status_json(httpd)
    outputs = {"acme-status": str(full), "server-status?auto": auto_text,
               "server-status": html_text, "acme-metrics": metrics_text}
    for what, text in outputs.items():
        sh.assert_no_secret(text, secrets, what)
    sh.assert_no_secret(httpd.error_log(), secrets, "the error log")
    timing("status: all outputs checked", time.monotonic() - t0)


def test_no_section_without_certificates(httpd_factory, tools):
    """A server that manages nothing shows no ACME section; the handlers answer empty."""
    httpd = httpd_factory([sh.status_vhost()], [])
    r = sh.get(httpd, "/server-status?auto")
    assert r.status == 200 and "ACMECertificate" not in r.text and "ACME" not in r.text, r
    r = sh.get(httpd, "/server-status")
    assert r.status == 200 and "ACME certificates" not in r.text
    status, j = sh.status_json(httpd)
    assert status == 200 and j["certificates"] == [], j
    r = sh.get(httpd, "/metrics")
    assert r.status == 200 and "acme_certificate_state{" not in r.text
    assert "acme_orders_total 0" in r.text
