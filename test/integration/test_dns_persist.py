"""Issue 11, test 6: dns-persist-01 (draft-ietf-acme-dns-persist) through pebble 2.10, with
the standing TXT record set in pebble-challtestsrv (pebble's DNS).

  - `ACMEChallenges dns-persist-01`: the module prints the exact record (issuer domain from
    the challenge's issuer-domain-names, i.e. pebble's caaIdentities, and this account's URL)
    in the error log; once the admin publishes it, the certificate is issued; the module runs
    no hook and publishes nothing itself;
  - a wildcard with its apex: one record with "; policy=wildcard" validates both;
  - without the record the order fails, and `acmectl show` names the exact record to publish
    (the status page's error detail too, with its account URL shown as "(account)", as in
    every error there);
  - the record is kept as state (orders/<id>/persist.json) from the first order on, across
    issuance: the status page (HTML, ?auto, JSON dns_persist_records) and `acmectl show`
    (text, --json) give it exactly, account URL included (public DNS data), the very value
    pebble-challtestsrv serves; a configtest then prints the exact record (ACME00584)
    instead of the template.

Real pebble, no proxy, no fault injected."""

import json
import re

import pytest

import challenge_helpers as ch
import harness
import status_helpers as sh
import test_acmectl as ctl
from harness import VHost

ISSUER = "ca.mod-acme.test"
RECORD_RX = re.compile(r'ACME00550.*standing DNS record (_validation-persist\.(\S+)\. IN TXT '
                       r'"([^"]+)")')


def _pebble(pebble_factory):
    return pebble_factory(extra_config={
        "caaIdentities": [ISSUER],
        "profiles": {"default": {"description": "test", "validityPeriod": 3600}}})


def _record(httpd, timeout=60, want=""):
    """(record line, host, TXT value) from the module's ACME00550 line (one whose record
    holds want)."""
    def found():
        for _, line in httpd.log_entries(r"ACME00550"):
            m = RECORD_RX.search(line)
            if m and want in m.group(1):
                return m.groups()
        return None
    return httpd.wait_for(found, timeout, what="the dns-persist-01 record in the error log")


def _assert_shown_exactly(httpd, name, value, record):
    """The status page (JSON, ?auto, HTML) and acmectl show (--json, text) give the record
    exactly: name, TXT value (account URL included) and the zone-file line."""
    want = [{"name": "_validation-persist." + name, "value": value, "record": record}]
    _, j = sh.status_json(httpd, name)
    assert j["certificates"][0]["dns_persist_records"] == want, j
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, name)
    assert auto.get("dns_persist._validation-persist." + name) == value, auto
    html = sh.get(httpd, "/server-status").text
    assert "<code>%s</code>" % record.replace('"', "&quot;") in html, html
    res = ctl.acmectl("--json", "show", name, store=httpd.store)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["dns_persist_records"] == want, res.stdout
    res = ctl.acmectl("show", name, store=httpd.store)
    assert res.returncode == 0, res.stderr
    assert "    DNS Persist Record: %s\n" % record in res.stdout, res.stdout


@pytest.mark.pebble210
def test_dns_persist_record_printed_then_issued(pebble_factory, httpd_factory, challtestsrv):
    name = "persist.mod-acme.test"
    txt = "_validation-persist.%s." % name
    peb = _pebble(pebble_factory)
    v = VHost(name, lines=["ACMEChallenges dns-persist-01"])
    httpd = httpd_factory([v, sh.status_vhost()],
                          harness.acme_lines(peb, peb.ca_file, extra=["ACMERetryDelay 5s"]))
    record, host, value = _record(httpd)
    assert host == "persist.mod-acme.test"
    m = re.fullmatch(r"%s; accounturi=(https://127\.0\.0\.1:%d/\S+)" % (re.escape(ISSUER),
                                                                       peb.port), value)
    assert m, record
    challtestsrv.set_txt(txt, value)
    try:
        c, _ = httpd.wait_for_cert(name, peb, timeout=120, names=[name])
        held = ch.dns_query_txt(txt, challtestsrv.dns_port)
        assert held == [value], held
        # after issuance (and the restart that activated it) the record is still known,
        # exactly as pebble-challtestsrv holds it
        _assert_shown_exactly(httpd, name, held[0], record)
        # a second configtest: the store has the account and the record, so it is exact
        rc, out = httpd.configtest()
        assert rc == 0 and "Syntax OK" in out, out
        hints = [line for line in out.splitlines() if "ACME00584" in line]
        assert len(hints) == 1 and hints[0].endswith(
            "%s uses dns-persist-01: publish (and keep) the TXT record %s" % (name, record)), out
        assert "ACME00552" not in out, out
    finally:
        challtestsrv.clear_txt(txt)
    assert peb.count(r"Attempting to validate w/ HTTP") == 0
    # the module published nothing: no http-01/tls-alpn-01 response, no dns-01 hook
    assert not httpd.log_entries(r"dns-01 hook|answering a challenge")


@pytest.mark.pebble210
def test_dns_persist_wildcard(pebble_factory, httpd_factory, challtestsrv):
    """ServerAlias *.NAME with ACMEChallenges dns-persist-01 (no ACMEDNSHook): the record
    printed for the wildcard carries policy=wildcard, and that one record covers the apex."""
    name = "wild.mod-acme.test"
    peb = _pebble(pebble_factory)
    v = VHost(name, aliases=["*." + name], lines=["ACMEChallenges dns-persist-01"])
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file, extra=["ACMERetryDelay 5s"]))
    record, host, value = _record(httpd, want="policy=wildcard")
    assert host == name and value.endswith("; policy=wildcard"), record
    challtestsrv.set_txt("_validation-persist.%s." % name, value)
    try:
        httpd.wait_for_cert("x." + name, peb, timeout=120, names=[name, "*." + name])
        # one record for both names, the wildcard's
        res = ctl.acmectl("--json", "show", name, store=httpd.store)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["dns_persist_records"] == [
            {"name": "_validation-persist." + name, "value": value, "record": record}], res.stdout
    finally:
        challtestsrv.clear_txt("_validation-persist.%s." % name)


@pytest.mark.pebble210
def test_dns_persist_missing_record_named_everywhere(pebble_factory, httpd_factory):
    name = "norecord.mod-acme.test"
    peb = _pebble(pebble_factory)
    v = VHost(name, lines=["ACMEChallenges dns-persist-01"])
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(peb, peb.ca_file))
    record, _, _ = _record(httpd)

    def failed():
        res = ctl.acmectl("--json", "show", name, store=httpd.store)
        if res.returncode != 0:
            return None
        err = json.loads(res.stdout).get("last_error")
        return err if err and "_validation-persist" in (err.get("detail") or "") else None
    err = httpd.wait_for(failed, 60, interval=1, what="acmectl show naming the record")
    assert record in err["detail"], err
    assert "No TXT records found" in err["detail"] or "TXT" in err["detail"], err
    # error details on the status page never show the account URL (docs/status.md): the
    # record is there with "(account)" in its place; the record itself, known since the
    # order, is shown exactly in dns_persist_records (public DNS data)
    acct = re.search(r"accounturi=(\S+)\"", record).group(1)
    _, j = sh.status_json(httpd, name)
    detail = j["certificates"][0]["last_error"]["detail"]
    assert record.replace(acct, "(account)") in detail, detail
    assert acct not in json.dumps(j["certificates"][0]["last_error"])
    value = re.search(r'IN TXT "([^"]+)"', record).group(1)
    _assert_shown_exactly(httpd, name, value, record)
    assert harness.fetch_cert(httpd.https_port, name).is_fallback


def test_dns_persist_configtest_names_the_record(httpd_factory, pebble):
    """apachectl configtest (no CA contacted) names the record to publish for each name of a
    dns-persist-01 vhost (the wildcard form for *.NAME) and no wildcard warning."""
    name = "hint.mod-acme.test"
    v = VHost(name, aliases=["*." + name], lines=["ACMEChallenges dns-persist-01"])
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file), start=False)
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    hints = [line for line in out.splitlines() if "ACME00552" in line]
    assert len(hints) == 2, out
    assert any("publish the TXT record _validation-persist.%s with the value \"ISSUER; "
               "accounturi=ACCOUNT-URL\"" % name in h for h in hints), hints
    assert any("accounturi=ACCOUNT-URL; policy=wildcard" in h for h in hints), hints
    assert "ACME00064" not in out, out
