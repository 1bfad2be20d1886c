"""Issue 3, test 6: ACMENotifyCmd. The program gets `ARGS EVENT CERT-ID` and ACME_* variables,
runs as the httpd User, and a failing or hanging program never stops issuance.
Pebble is used directly (its domainBlocklist makes one name fail)."""

import os
import re
import signal
import time

import harness
from harness import VHost, norm_serial, notify_records, write_notify_script

# a log line about the notify program names the directive or the program
NOTIFY_LOG = r"ACMENotifyCmd|bad-notify\.sh"
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"


def _rfc3339_epoch(text):
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    assert m, "not RFC 3339: %r" % text
    import calendar
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        t -= sign * (int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return t


def _notify_dir(workdir, name):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def _events(records, cert):
    return [r for r in records if len(r["args"]) >= 4 and r["args"][3] == cert]


def test_notify_events_and_environment(pebble_factory, httpd_factory, workdir, timing):
    good = VHost("notify.mod-acme.test", aliases=["www.notify.mod-acme.test"])
    bad = VHost("blocked.mod-acme.test")
    peb = pebble_factory(blocklist=[bad.name])
    d = _notify_dir(workdir, "notify-events")
    script = write_notify_script(d)
    uid, _ = harness.httpd_user_ids()
    httpd = httpd_factory([good, bad], harness.acme_lines(
        peb, peb.ca_file, extra=['ACMENotifyCmd %s --tag "two words"' % script]))
    t0 = time.monotonic()
    cert, _ = httpd.wait_for_cert(good.name, peb, timeout=60, names=good.names)

    def have_all():
        recs = notify_records(d)
        ev = [r["args"][2] for r in _events(recs, good.name)]
        fails = [r for r in _events(recs, bad.name) if r["args"][2] == "failed"]
        return recs if "activated" in ev and fails else None
    recs = httpd.wait_for(have_all, 20, what="the activated and failed notifications")
    timing("start -> activated notification", time.monotonic() - t0)
    for r in recs:
        print("notify: uid %s args %r env %r" % (r.get("uid"), r["args"], r["env"]))

    # the argv: PROGRAM ARGS EVENT CERT-ID, for every run
    for r in recs:
        assert r["args"][:2] == ["--tag", "two words"] and len(r["args"]) == 4, r["args"]
        assert r["uid"] == uid, "notify program ran as uid %s, not %s" % (r["uid"], uid)
        assert r["env"].get("ACME_EVENT") == r["args"][2], r
        assert r["env"].get("ACME_CERT") == r["args"][3], r

    g = _events(recs, good.name)
    names = [r["args"][2] for r in g]
    assert names == ["renewing", "renewed", "activated"], \
        "events for %s: %r, expected renewing, renewed, activated" % (good.name, names)
    for r in g:
        assert sorted(r["env"].get("ACME_NAMES", "").split()) == sorted(good.names), r["env"]
    for r in g[1:]:   # renewed, activated: the new certificate is known
        assert re.match(RFC3339, r["env"].get("ACME_NOT_AFTER", "")), r["env"]
        assert abs(_rfc3339_epoch(r["env"]["ACME_NOT_AFTER"]) - cert.not_after) <= 1, \
            (r["env"]["ACME_NOT_AFTER"], time.ctime(cert.not_after))
        assert norm_serial(r["env"].get("ACME_SERIAL")) == norm_serial(cert.serial), \
            (r["env"].get("ACME_SERIAL"), cert.serial)
    assert not any("ACME_ERROR_TYPE" in r["env"] for r in g), g

    b = _events(recs, bad.name)
    bnames = [r["args"][2] for r in b]
    assert bnames[:2] == ["renewing", "failed"], "events for %s: %r" % (bad.name, bnames)
    f = b[1]["env"]
    assert "rejectedIdentifier" in f.get("ACME_ERROR_TYPE", ""), f
    assert f.get("ACME_ERROR_DETAIL"), f
    assert f.get("ACME_NAMES") == bad.name, f
    assert "renewed" not in bnames and "activated" not in bnames, bnames


def test_failing_and_hanging_notify_do_not_stop_issuance(pebble, httpd_factory, workdir,
                                                         timing):
    """The program exits 1 on `renewing` (with output) and hangs (exec sleep 300) on
    `renewed`: the certificate is obtained and activated anyway, the exit status and output
    are logged, and the hanging run is killed after 30 s."""
    v = VHost("notify-bad.mod-acme.test")
    d = _notify_dir(workdir, "notify-bad")
    marker = "notify-output-marker-%d" % os.getpid()
    pidfile = os.path.join(d, "records", "hang.pid")
    script = write_notify_script(d, tail_code="""case "$1" in
  renewing) echo "%s"; exit 1 ;;
  renewed) echo $$ > "%s"; exec sleep 300 ;;
esac
exit 0""" % (marker, pidfile), name="bad-notify.sh")
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file,
                                                  extra=["ACMENotifyCmd %s" % script]))
    hang_pid = None
    try:
        t0 = time.monotonic()
        cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
        timing("start -> served despite failing/hanging notify", time.monotonic() - t0)
        httpd.wait_for(lambda: "activated" in [r["args"][0] for r in notify_records(d)
                                               if r["args"]], 15,
                       what="the activated notification after a hanging one")
        assert os.path.exists(pidfile), "the renewed run did not start"
        with open(pidfile) as f:
            hang_pid = int(f.read().strip())
        lines = [line for _, line in httpd.log_entries(NOTIFY_LOG)]
        print("log lines about the notify program:\n  " + "\n  ".join(lines))
        exit_lines = [line for line in lines if re.search(r"\b1\b", line)
                      and re.search(r"exit|status", line, re.I)]
        assert exit_lines, "no log line with the program's exit status 1"
        assert httpd.log_entries(re.escape(marker)), \
            "the program's output %r is not in the log" % marker
        for line in exit_lines:
            assert not re.search(r"\[acme:(error|crit|alert|emerg)\]", line), \
                "a failing notify program logged as an error, not a warning: " + line

        renewed_at = [r["time"] for r in notify_records(d) if r["args"][:1] == ["renewed"]][0]

        def killed():
            try:
                os.kill(hang_pid, 0)
                return False
            except ProcessLookupError:
                return True
        httpd.wait_for(killed, max(1, renewed_at + 36 - time.time()), interval=0.5,
                       what="the hanging notify program (pid %d) killed after 30 s" % hang_pid)
        dt = time.time() - renewed_at
        hang_pid = None
        print("hanging notify program gone %.1f s after it started" % dt)
        assert dt >= 29, "the hanging program was killed after %.1f s, before 30 s" % dt
        httpd.wait_for(lambda: [line for _, line in httpd.log_entries(NOTIFY_LOG)
                                if re.search(r"kill|time ?limit|timed out|timeout|30 ?s", line,
                                             re.I)], 5,
                       what="a log line saying the program was killed after its time limit")
        assert httpd.running()
        assert httpd.cert(v.name).serial == cert.serial
    finally:
        if hang_pid is not None:  # the module did not kill it: clean up what the test started
            try:
                os.kill(hang_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_run_outliving_its_generation_reported_with_exit_status(pebble, httpd_factory, workdir,
                                                                timing):
    """The program sleeps 15 s and exits 5 on `renewed`: the graceful restart that activates
    the certificate comes meanwhile and ends the watchdog that started the run, so that
    process can no longer wait for it. The next generation adopts the run and reports its end
    with the exit status (ACME00420), which a wrapper left in the store."""
    v = VHost("notify-adopt.mod-acme.test")
    d = _notify_dir(workdir, "notify-adopt")
    script = write_notify_script(d, tail_code="""case "$1" in
  renewed) sleep 15; exit 5 ;;
esac
exit 0""", name="adopt-notify.sh")
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file,
                                                  extra=["ACMENotifyCmd %s" % script]))
    t0 = time.monotonic()
    httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    renewed = [r for r in notify_records(d) if r["args"][:1] == ["renewed"]]
    assert renewed, "no renewed run"
    assert time.time() - renewed[0]["time"] < 14, \
        "the restart came after the renewed run ended: nothing to adopt"
    httpd.wait_for(lambda: httpd.log_entries(r"ACME00420"), 40,
                   what="the adopted run's end with its exit status (ACME00420)")
    timing("start -> adopted notify run reported", time.monotonic() - t0)
    lines = [line for _, line in httpd.log_entries(r"ACME00420")]
    print("\n".join(lines))
    assert any("renewed " + v.name in line and "exited with status 5" in line
               and "before the last restart" in line for line in lines), lines
    # the old generation did not report it as well
    assert not [line for _, line in httpd.log_entries(r"ACME00053")
                if "renewed " + v.name in line], "the run was reaped by its own generation"
