"""Issue 8, test 1: the module never restarts httpd into a configuration that stops it.

A certificate is live; `acmectl renew` stages a new one while the admin's configuration is
broken. The module's restart would re-read it, so it runs the check of `apachectl
configtest` first, and while that fails: the server stays up serving the old certificate,
the error log names the file and line, the status JSON and `acmectl show` say "activation
blocked: configuration does not pass", and ACMENotifyCmd gets `blocked` once per episode.
Once the file is fixed the new certificate goes live with no human action.

The broken states: (a) a syntax error, (b) a missing SSLCertificateFile of a non-ACME vhost,
(c) a non-ACME vhost whose certificate and key do not match (passes plain `httpd -t`
without mod_acme's check, stops httpd at start), (d) a Listen on a port another process
holds. (a) is fixed by rewriting the file; (b)-(d) are one episode, ended by freeing the
port, which only the 60 s re-check can see. Real httpd and real pebble, no proxy."""

import os
import socket
import subprocess
import time

import harness
import status_helpers as sh
from harness import VHost, notify_records, write_notify_script

ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
BLOCKED_TEXT = "activation blocked: configuration does not pass"
A = VHost("safe.mod-acme.test")
# the documented bound: a change of the configuration files is seen within about a second,
# the check and the restart take a few more; allow for a loaded machine
FIX_BOUND = 30


def acmectl(*args, store):
    argv = [ACMECTL, "--store", store] + list(args)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    print("$ %s -> %d\n%s%s" % (" ".join(argv), res.returncode, res.stdout, res.stderr))
    return res


def _write(path, lines):
    # a new inode and a new mtime, as an editor's save
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _blocked_events(d):
    return [r for r in notify_records(d) if r["args"][:2] == ["blocked", A.name]]


def _entry(httpd, name):
    status, j = sh.status_json(httpd)
    assert status == 200, j
    return {c["id"]: c for c in j["certificates"]}[name]


def _wait_blocked(httpd, mark, conf, line, what):
    """Until the log says activation is blocked naming conf and line; returns that line."""
    needle = "%s line %d" % (conf, line)

    def logged():
        for _, text in httpd.log_entries(r"ACME00100", since=mark):
            if needle in text:
                return text
        return None
    text = httpd.wait_for(logged, 90, interval=0.5,
                          what="ACME00100 naming %s (%s)" % (needle, what))
    print("%s: %s" % (what, text))
    return text


def _assert_blocked_everywhere(httpd, old_serial, needle):
    assert httpd.running(), "httpd stopped:\n" + httpd.diagnostics()
    assert httpd.cert(A.name).serial == old_serial, "the old certificate is no longer served"
    e = httpd.wait_for(lambda: (lambda c: c if c["activation_blocked"] and needle in
                                c["activation_blocked"]["reason"] else None)(_entry(httpd, A.name)),
                       10, what="status JSON naming %s" % needle)
    assert e["staged"] is True, e
    assert e["next_action"]["action"] == "activate", e
    assert e["next_action"]["reason"].startswith(BLOCKED_TEXT), e
    res = acmectl("show", A.name, store=httpd.store)
    assert res.returncode == 0 and BLOCKED_TEXT in res.stdout and needle in res.stdout, res.stdout
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, A.name)
    assert auto.get("activation_blocked") == "1", auto
    metrics = sh.get(httpd, "/metrics").text
    assert 'acme_certificate_activation_blocked{name="%s"} 1' % A.name in metrics


def _renew_and_wait_staged(httpd):
    res = acmectl("renew", A.name, store=httpd.store)
    assert res.returncode == 0
    staged = os.path.join(httpd.store, "staging", A.name, "meta.json")
    httpd.wait_for(lambda: os.path.exists(staged), 60, interval=0.5,
                   what="the renewed certificate staged")


def _fix_and_wait_live(httpd, extra, pebble, old_serial, timing, label):
    mark = httpd.log_mark()
    t0 = time.monotonic()
    _write(extra, ["# fixed"])
    cert, _ = httpd.wait_for_cert(A.name, pebble, timeout=FIX_BOUND, not_serial=old_serial,
                                  names=A.names)
    timing("fix of the configuration -> new certificate served (%s)" % label,
           time.monotonic() - t0)
    assert httpd.log_entries(r"ACME00103", since=mark), "no 'passes again' line"
    e = _entry(httpd, A.name)
    assert e["activation_blocked"] is None and e["staged"] is False, e
    assert "blocked" not in acmectl("show", A.name, store=httpd.store).stdout
    return cert


def test_no_restart_into_a_broken_configuration(httpd_factory, pebble, workdir, timing):
    d = os.path.join(workdir, "notify-restart-safety")
    os.makedirs(d, exist_ok=True)
    script = write_notify_script(d)
    status = sh.status_vhost()
    httpd = httpd_factory([A, status], harness.acme_lines(
        pebble, pebble.ca_file, extra=["ACMENotifyCmd %s" % script]), start=False,
        global_lines=["Include conf/extra.conf"])
    extra = os.path.join(httpd.root, "conf", "extra.conf")
    _write(extra, ["# the admin's file"])
    pair = harness.make_self_signed(os.path.join(workdir, "static-b"), ["static.mod-acme.test"])
    other = harness.make_self_signed(os.path.join(workdir, "static-c"), ["other.mod-acme.test"])
    httpd.start()
    pid = httpd.pid
    c1, _ = httpd.wait_for_cert(A.name, pebble, timeout=60, names=A.names)
    time.sleep(1)

    # ---- (a) a syntax error: one episode, then the fix activates the new certificate
    mark = httpd.log_mark()
    _write(extra, ["# the admin's file", "ServerTokens Prod", "ThisIsNotADirective on"])
    _renew_and_wait_staged(httpd)
    _wait_blocked(httpd, mark, extra, 3, "(a) syntax error")
    _assert_blocked_everywhere(httpd, c1.serial, "%s line 3" % extra)
    httpd.wait_for(lambda: len(_blocked_events(d)) == 1, 15, what="the blocked notification")
    ev = _blocked_events(d)[0]
    assert BLOCKED_TEXT in ev["env"].get("ACME_ERROR_DETAIL", ""), ev
    c2 = _fix_and_wait_live(httpd, extra, pebble, c1.serial, timing, "a")
    assert httpd.pid == pid

    # ---- (b), (c), (d) in one episode: each change is checked again at once
    time.sleep(1)
    mark = httpd.log_mark()
    vhost_b = ["<VirtualHost *:%d>" % httpd.https_port,
               "    ServerName static.mod-acme.test",
               "    ACME off",
               "    SSLEngine on",
               "    SSLCertificateFile %s" % os.path.join(workdir, "nonexistent.pem"),
               "    SSLCertificateKeyFile %s" % pair[1],
               "</VirtualHost>"]
    _write(extra, ["# (b)"] + vhost_b)
    _renew_and_wait_staged(httpd)
    _wait_blocked(httpd, mark, extra, 6, "(b) missing SSLCertificateFile")
    _assert_blocked_everywhere(httpd, c2.serial, "%s line 6" % extra)

    # (c) the files exist but do not match: plain httpd -t without the module says
    # "Syntax OK", and mod_ssl would stop httpd at the restart
    vhost_c = list(vhost_b)
    vhost_c[4] = "    SSLCertificateFile %s" % pair[0]
    vhost_c[5] = "    SSLCertificateKeyFile %s" % other[1]
    mark = httpd.log_mark()
    _write(extra, ["# (c)"] + vhost_c)
    _wait_blocked(httpd, mark, extra, 6, "(c) certificate and key do not match")
    reason = _entry(httpd, A.name)["activation_blocked"]["reason"]
    assert "do not match" in reason, reason
    _assert_blocked_everywhere(httpd, c2.serial, "do not match")
    rc, out = httpd.configtest()
    assert rc != 0 and "do not match" in out and "%s line 6" % extra in out, out

    # (d) a Listen on a port another process holds
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        port = harness.free_port()
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        mark = httpd.log_mark()
        _write(extra, ["# (d)", "Listen 127.0.0.1:%d" % port])
        _wait_blocked(httpd, mark, extra, 2, "(d) Listen on a port in use")
        _assert_blocked_everywhere(httpd, c2.serial, "Listen 127.0.0.1:%d" % port)
        # one notification for the whole episode, whatever changed inside it
        time.sleep(3)
        assert len(_blocked_events(d)) == 2, [r["args"] for r in notify_records(d)]
        assert httpd.pid == pid and httpd.running()
    finally:
        holder.close()

    # the other program frees the port: no file changes, the 60 s re-check finds it
    t0 = time.monotonic()
    mark = httpd.log_mark()
    c3, _ = httpd.wait_for_cert(A.name, pebble, timeout=60 + FIX_BOUND, not_serial=c2.serial,
                                names=A.names)
    timing("port freed -> new certificate served (interval re-check)", time.monotonic() - t0)
    assert httpd.log_entries(r"ACME00104.*interval passed", since=mark), \
        "not activated by the interval re-check"
    assert httpd.log_entries(r"ACME00103", since=mark)
    assert httpd.pid == pid and httpd.running()
    assert _entry(httpd, A.name)["activation_blocked"] is None
    assert httpd.cert(A.name).serial == c3.serial
    # and the restart really bound the new address
    assert harness.port_accepts(port)
