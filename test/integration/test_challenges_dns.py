"""Issue 4, tests 2 and 3: dns-01 through ACMEDNSHook.

The hook (challenge_helpers.DnsHook, a test-only python script run by the module as the httpd
User) records every run and writes the TXT record through pebble-challtestsrv's management API
(/set-txt adds a value, /clear-txt removes all values of the name); pebble resolves through
challtestsrv, and ACMEDNSResolver points the module's propagation check at it too."""

import os
import re
import time

import pytest

import harness
from harness import VHost
import challenge_helpers as ch
import status_helpers as sh

W = "w.mod-acme.test"


def _dns_lines(hook, challtestsrv, args=(), challenges="dns-01"):
    lines = ["ACMEDNSHook %s%s" % (hook.path, "".join(' "%s"' % a for a in args)),
             "ACMEDNSResolver 127.0.0.1:%d" % challtestsrv.dns_port,
             "ACMEDNSPropagationTimeout 20s"]
    if challenges:
        lines.insert(0, "ACMEChallenges %s" % challenges)
    return lines


def check_hook_pairs(hook, domain, n_authz, args=()):
    """The hook's runs are exactly n_authz pairs `ARGS setup DOMAIN V` then `ARGS teardown
    DOMAIN V` (V 43 chars of base64url, distinct per pair), all exit 0, as the httpd User, one
    pair finished before the next began. Returns the values."""
    recs = hook.records()
    desc = hook.describe()
    assert len(recs) == 2 * n_authz, "expected %d hook runs:\n%s" % (2 * n_authz, desc)
    uid, _gid = harness.httpd_user_ids()
    values = []
    for i in range(n_authz):
        setup, teardown = recs[2 * i], recs[2 * i + 1]
        assert setup["argv"][:len(args)] == list(args), desc
        assert teardown["argv"][:len(args)] == list(args), desc
        s_rest, t_rest = setup["argv"][len(args):], teardown["argv"][len(args):]
        assert len(s_rest) == 3 and s_rest[:2] == ["setup", domain], desc
        assert len(t_rest) == 3 and t_rest[:2] == ["teardown", domain], desc
        assert ch.TXT_VALUE_RX.match(s_rest[2]), "TXT value %r is not 43 chars of base64url" % (
            s_rest[2],)
        assert t_rest[2] == s_rest[2], "teardown value differs from setup's:\n%s" % desc
        for r in (setup, teardown):
            assert r.get("exit") == 0, desc
            assert r["uid"] == uid, "hook ran as uid %s, expected %s (www-data)" % (r["uid"], uid)
        if i > 0:
            assert recs[2 * i - 1]["end"] <= setup["start"], (
                "setup of authorization %d began before the teardown of the previous one ended "
                "(challtestsrv's /clear-txt would remove its value):\n%s" % (i + 1, desc))
        values.append(s_rest[2])
    assert len(set(values)) == len(values), "the same TXT value for two authorizations: %r" % (
        values,)
    return values


@pytest.mark.compat
def test_dns01_wildcard_and_apex(httpd_factory, pebble, challtestsrv, acme_config, workdir,
                                 timing):
    hook = ch.DnsHook(os.path.join(workdir, "hook-ok"), challtestsrv)
    v = VHost(W, aliases=["*." + W], lines=_dns_lines(hook, challtestsrv))
    mark = pebble.mark()
    t0 = time.monotonic()
    httpd = httpd_factory([v], acme_config)
    cert, waited = httpd.wait_for_cert(W, pebble, timeout=60, names=[W, "*." + W])
    timing("dns-01 wildcard+apex: start -> served", waited)
    assert cert.sans == sorted(["*." + W, W]), cert
    root = pebble.root_file()
    for sni in (W, "x." + W, "deep-name." + W):
        assert httpd.cert(sni).serial == cert.serial, sni
        err = harness.verify_served(httpd.https_port, sni, root)
        assert err is None, "%s: %s" % (sni, err)
    r = httpd.get("/", "x." + W, tls=True)
    assert r.status == 200 and ("https %s" % W) in r.text, r

    # two dns-01 authorizations (the wildcard's and the apex's), both for DOMAIN w.mod-acme.test
    values = check_hook_pairs(hook, W, 2)
    print("hook runs:\n" + hook.describe())
    log = pebble.log_text()[mark:]
    assert "Attempting to validate w/ HTTP" not in log
    chosen = ch.acme_lines(httpd, "00060")
    assert any("certificate %s: challenge types dns-01 (ACMEChallenges)" % W in l
               for l in chosen), chosen
    # the module waited for the record through ACMEDNSResolver, and never had to give up
    visible = httpd.log_entries(r"_acme-challenge\.%s visible after \d+ look-up" % re.escape(W))
    assert len(visible) == 2, visible
    assert not httpd.log_entries(r"is not visible through"), httpd.diagnostics()
    # teardown removed the record
    assert ch.dns_query_txt("_acme-challenge." + W, challtestsrv.dns_port) == []
    assert values[0] != values[1]
    assert time.monotonic() - t0 < 60


def test_dns01_hook_fails_others_unaffected(httpd_factory, pebble, challtestsrv, acme_config,
                                           workdir, timing):
    hook = ch.DnsHook(os.path.join(workdir, "hook-fail"), challtestsrv, mode="fail-setup")
    f = VHost("fail.mod-acme.test", lines=_dns_lines(hook, challtestsrv))
    g = VHost("good.mod-acme.test")   # automatic choice, no hook: http-01
    t0 = time.monotonic()
    httpd = httpd_factory([f, g, sh.status_vhost()], acme_config)
    cert, waited = httpd.wait_for_cert(g.name, pebble, timeout=60, names=[g.name])
    timing("hook fails: the other certificate served", waited)
    lines = ch.wait_log(httpd, r"ACME00031.*fail\.mod-acme\.test", 30)
    line = lines[0]
    print(line)
    for part in (hook.path, "setup fail.mod-acme.test", "exit status 1",
                 "refusing to set up _acme-challenge.fail.mod-acme.test",
                 "hook-stderr: zone is read-only"):
        assert part in line, "%r not in the ACME00031 line:\n%s" % (part, line)
    assert not ch.acme_lines(httpd, "00031.*good\\.mod-acme\\.test")
    # teardown still ran, with the same value, after the failed setup
    recs = hook.records()
    desc = hook.describe()
    assert len(recs) == 2, desc
    assert recs[0]["argv"][:2] == ["setup", "fail.mod-acme.test"] and recs[0]["exit"] == 1, desc
    assert recs[1]["argv"][:2] == ["teardown", "fail.mod-acme.test"], desc
    assert recs[1]["argv"][2] == recs[0]["argv"][2] and ch.TXT_VALUE_RX.match(recs[0]["argv"][2])
    assert recs[0]["end"] <= recs[1]["start"], desc
    # the failing certificate keeps the fallback; the status shows the error
    assert httpd.cert(f.name).is_fallback
    _, j = sh.status_json(httpd, f.name)
    c = j["certificates"][0]
    assert c["state"] == "error", c
    assert "exit status 1" in (c["last_error"] or {}).get("detail", ""), c
    assert time.monotonic() - t0 < 60


def test_dns01_hook_hangs_others_unaffected(httpd_factory, pebble, challtestsrv, acme_config,
                                           workdir, timing):
    """The hook hangs in setup: another certificate (http-01) is obtained meanwhile and goes
    live with the usual automatic restart (docs: within about 10 to 20 s); after the 60 s
    limit the hook is killed, the error says so, and teardown runs."""
    hook = ch.DnsHook(os.path.join(workdir, "hook-hang"), challtestsrv, mode="hang-setup",
                      hang=240)
    h = VHost("hang.mod-acme.test", lines=_dns_lines(hook, challtestsrv))
    g = VHost("good2.mod-acme.test")
    t0 = time.monotonic()
    httpd = httpd_factory([h, g], acme_config)
    started = httpd.wait_for(lambda: [r for r in hook.records() if r.get("hanging")], 20,
                             what="the hook's setup run")
    hang_pid = started[0]["pid"]
    # obtained while the hook hangs
    ch.wait_log(httpd, r"ACME00030: certificate for good2\.mod-acme\.test", 20)
    t_staged = time.monotonic()
    timing("hook hangs: the other certificate obtained", t_staged - t0)
    rec = [r for r in hook.records() if r["pid"] == hang_pid][0]
    assert "end" not in rec and os.path.exists("/proc/%d" % hang_pid), hook.describe()

    # ... and goes live as usual (ACMEAutoRestart: within about 10 to 20 s), hook or not
    late = None
    try:
        cert, _ = httpd.wait_for_cert(g.name, pebble, timeout=25, names=[g.name])
        timing("hook hangs: the other certificate served", time.monotonic() - t0)
        assert "end" not in [r for r in hook.records() if r["pid"] == hang_pid][0]
    except TimeoutError:
        cert = None
        late = ("good2.mod-acme.test was obtained %.1f s after start while the dns-01 hook of "
                "hang.mod-acme.test hung, but was not served 25 s later: the automatic "
                "graceful restart waits for the hanging attempt" % (t_staged - t0))
        print("FINDING: " + late)
    assert httpd.cert(h.name).is_fallback

    # the 60 s limit: killed, a clear error, teardown
    lines = ch.wait_log(httpd, r"ACME00031.*hang\.mod-acme\.test",
                        max(5.0, 85 - (time.monotonic() - t0)))
    timing("hook hangs: start -> ACME00031", time.monotonic() - t0)
    line = lines[0]
    print(line)
    for part in (hook.path, "setup hang.mod-acme.test", "did not finish in time",
                 "hanging in setup of _acme-challenge.hang.mod-acme.test"):
        assert part in line, "%r not in the ACME00031 line:\n%s" % (part, line)
    teardown = httpd.wait_for(lambda: [r for r in hook.records(finished_only=True)
                                       if r["argv"][:2] == ["teardown", h.name]], 10,
                              what="the teardown run")
    assert teardown[0]["argv"][2] == rec["argv"][2] and teardown[0]["exit"] == 0
    assert teardown[0]["start"] >= rec["start"] + 55, hook.describe()
    alive = os.path.exists("/proc/%d" % hang_pid) and \
        "zombie" not in open("/proc/%d/status" % hang_pid).read().lower()
    assert not alive, "the hung hook (pid %d) still runs after the limit" % hang_pid
    if cert is None:
        cert, _ = httpd.wait_for_cert(g.name, pebble, timeout=30, names=[g.name])
        timing("hook hangs: the other certificate served (late)", time.monotonic() - t0)
    assert httpd.cert(g.name).serial == cert.serial
    assert late is None, late


def test_dns01_waits_until_the_record_is_visible(httpd_factory, pebble, challtestsrv,
                                                 acme_config, workdir, timing):
    """The hook returns at once but the record appears 5 s later: the module asks the CA only
    once ACMEDNSResolver shows the value (else pebble would find no TXT and fail)."""
    delay = 5
    hook = ch.DnsHook(os.path.join(workdir, "hook-delayed"), challtestsrv, mode="delayed",
                      hang=delay)
    name = "prop.mod-acme.test"
    v = VHost(name, lines=_dns_lines(hook, challtestsrv))
    mark = pebble.mark()
    httpd = httpd_factory([v], acme_config)
    cert, waited = httpd.wait_for_cert(name, pebble, timeout=60, names=[name])
    timing("dns-01, record visible after %d s: served" % delay, waited)
    recs = hook.records()
    assert [r["argv"][0] for r in recs] == ["setup", "teardown"], hook.describe()
    published = float(open(recs[0]["published_later"]).read())
    assert published >= recs[0]["end"] + delay - 0.5
    visible = httpd.log_entries(r"_acme-challenge\.%s visible after (\d+) look-up"
                                % re.escape(name))
    assert len(visible) == 1, httpd.diagnostics()
    tries = int(re.search(r"visible after (\d+) look-up", visible[0][1]).group(1))
    assert tries >= 2, visible
    assert visible[0][0] is None or visible[0][0] >= published - 1.0, (visible, published)
    assert not httpd.log_entries(r"is not visible through"), httpd.diagnostics()
    assert pebble.count(r"set INVALID", since=mark) == 0
