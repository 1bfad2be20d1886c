"""Issue 10, test 3: ACMEServer with several CAs.

test_failover_to_second_ca: the first ACMEServer entry is a closed high port on 127.0.0.1
(nothing listens: every attempt there fails at once, connection refused), the second a real
pebble; no proxy, no fault injection. With ACMERetryDelay 100ms the certificate's first 3
attempts go to the first CA (ACME_CA_FAILOVER_THRESHOLD), the 4th to the second, which
issues it. The status page and `acmectl show` say it came from the second; the plan keeps
it (no "CA changed" re-order); the account is pebble's alone. Then `acmectl renew`: the
renewal goes to the first CA again (3 failed attempts), then to the second, which renews.

test_ca_names_configtest: the known CA names pass `apache2 -t` in one ACMEServer line (no CA
is contacted)."""

import os
import re
import subprocess
import time

import harness
from harness import VHost
import status_helpers as sh

V = VHost("failover.mod-acme.test")
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
ATTEMPT_RX = r"ACME00031.*attempt (\d+) failed"


def _attempts(httpd):
    return [(t, int(re.search(ATTEMPT_RX, line).group(1)), line)
            for t, line in httpd.log_entries(ATTEMPT_RX)]


def test_failover_to_second_ca(pebble, httpd_factory, timing):
    dead_port = harness.free_port()
    assert not harness.port_accepts(dead_port)
    dead = "https://127.0.0.1:%d/dir" % dead_port
    lines = harness.acme_lines(pebble, pebble.ca_file, extra=["ACMERetryDelay 100ms"])
    lines = ["ACMEServer %s %s" % (dead, pebble.directory_url) if l.startswith("ACMEServer ")
             else l for l in lines]
    httpd = httpd_factory([V, sh.status_vhost()], lines)

    # attempts 1..3 at the first CA; the third is followed by a 10 s backoff (100ms x 100)
    httpd.wait_for(lambda: len(_attempts(httpd)) >= 3 or None, 40, interval=0.2,
                   what="three failed attempts at the unreachable first CA")
    att = _attempts(httpd)
    t3 = att[2][0]
    assert [n for _, n, _ in att[:3]] == [1, 2, 3], [line for _, _, line in att]
    for _, _, line in att[:3]:
        assert dead in line or "127.0.0.1:%d" % dead_port in line, line
    accounts_at_dead = httpd.log_entries(r"ACME00033: .*127\.0\.0\.1:%d" % dead_port)
    assert len(accounts_at_dead) == 3, accounts_at_dead
    assert not httpd.log_entries(r"ACME00033: .*%s" % re.escape(pebble.directory_url))

    # the status page says where the next attempt goes (the 10 s backoff leaves time)
    status, j = sh.status_json(httpd, V.name)
    print("status after 3 failures: %s" % j)
    assert status == 200
    c = j["certificates"][0] if "certificates" in j else j
    if c["staged"] is False and c["failures"] == 3:
        assert c["next_action"].get("ca") == pebble.directory_url, c
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, V.name)
    if auto.get("state") == "error":
        assert auto.get("next_ca") == pebble.directory_url, auto

    # the switch is logged, then the certificate comes from pebble
    sw = httpd.wait_for(lambda: httpd.log_entries(r"ACME00510: .*%s" % V.name) or None, 40,
                        what="ACME00510 (the next attempt goes to the next CA)")
    assert "3 failed attempts in a row" in sw[0][1] and "CA 2 of 2" in sw[0][1], sw
    assert pebble.directory_url in sw[0][1], sw
    cert, waited = httpd.wait_for_cert(V.name, pebble, timeout=90, names=V.names)
    staged = httpd.log_entries(r"ACME00030: .*%s" % V.name)
    assert staged, "no ACME00030 line"
    timing("3rd failure at the first CA -> staged from the second", staged[0][0] - t3)
    print("attempts: %s; staged %.1f s after the 3rd failure" % (
        ["%+.1f s #%d" % (t - att[0][0], n) for t, n, _ in _attempts(httpd)],
        staged[0][0] - t3))
    assert len(_attempts(httpd)) == 3, "failed attempts after the switch: %s" % [
        line for _, _, line in _attempts(httpd)[3:]]
    assert 8 <= staged[0][0] - t3 <= 60, staged[0][0] - t3

    # which CA issued it: status JSON, ?auto, acmectl show; kept (no "CA changed")
    def valid():
        st, jj = sh.status_json(httpd, V.name)
        cc = jj["certificates"][0] if "certificates" in jj else jj
        return cc if cc["state"] == "valid" else None
    c = httpd.wait_for(valid, 30, what="state valid on the status page")
    assert c["ca"] == pebble.directory_url, c
    assert c["next_action"]["action"] == "none", c
    assert "CA changed" not in c["next_action"]["reason"], c
    assert "ca" not in c["next_action"], c
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, V.name)
    assert auto["ca"] == pebble.directory_url, auto
    res = subprocess.run([ACMECTL, "--store", httpd.store, "show", V.name],
                         capture_output=True, text=True, timeout=60)
    print(res.stdout, res.stderr)
    assert res.returncode == 0, res
    assert "CA: %s\n" % pebble.directory_url in res.stdout, res.stdout
    # one account per CA: pebble's only (none could be made at the closed port)
    accounts = sorted(os.listdir(os.path.join(httpd.store, "accounts")))
    print("accounts: %s" % accounts)
    assert accounts == ["127.0.0.1_%d_dir" % pebble.port], accounts

    # back to the first CA: the renewal (asked for with acmectl) goes to the first CA again,
    # fails there 3 times and comes from the second again
    mark = httpd.log_mark()
    t_req = time.time()
    res = subprocess.run([ACMECTL, "--store", httpd.store, "renew", V.name],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    first = httpd.wait_for(lambda: httpd.log_entries(r"ACME00033: .*127\.0\.0\.1:%d" % dead_port,
                                                     since=mark) or None, 60,
                           what="the renewal's first attempt at the first CA")
    assert not httpd.log_entries(r"ACME00030: .*%s" % V.name, since=mark), \
        "renewed before any attempt at the first CA"
    httpd.wait_for(lambda: httpd.log_entries(r"ACME00510: .*CA 2 of 2", since=mark) or None, 60,
                   what="ACME00510 again for the renewal")
    renewed, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=cert.serial,
                                     names=V.names)
    at_dead = httpd.log_entries(r"ACME00033: .*127\.0\.0\.1:%d" % dead_port, since=mark)
    print("renewal: %d attempts at the first CA, the first %.1f s after the request; renewed "
          "certificate served %.1f s after it" % (len(at_dead), first[0][0] - t_req,
                                                   time.time() - t_req))
    timing("acmectl renew -> renewed from the second CA after 3 attempts at the first",
           time.time() - t_req)
    assert len(at_dead) == 3, at_dead
    assert httpd.running()


def test_ca_names_configtest(httpd_factory):
    """Every known CA name and a URL in one ACMEServer line pass `apache2 -t` (the bad values
    are rows of test_configtest_directives.py)."""
    good = httpd_factory([V], ["ACMEServer letsencrypt zerossl google google-staging "
                               "letsencrypt-staging https://127.0.0.1:14000/dir",
                               "ACMEAgreeTerms on", "ACME on"], start=False)
    rc, out = good.configtest()
    assert rc == 0 and "Syntax OK" in out, out
