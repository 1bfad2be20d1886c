"""Issue 10, test 1: External Account Binding (ACMEExternalAccountBinding KID KEY-FILE).

A real pebble with externalAccountBindingRequired and externalAccountMACKeys {KID: KEY}:

  - without a binding, no account is created and the error names EAB and the directive in the
    error log, the status page (JSON) and `acmectl show`;
  - with the binding (the key in a root-only 0600 file the watchdog child, running as the
    User, could not read), an account is created under accounts/<ca>+eab-<kid> and a
    certificate is issued; pebble logs the binding as verified;
  - the HMAC key (base64url as given, raw bytes in hex and base64) appears in no log line (the
    error log at LogLevel acme:trace8), the access log, httpd's stderr, the status pages,
    `acmectl list/show` (text and JSON), nor any store file the User can read (read as that
    user). A positive control shows the same search finds the key in the key file itself;
  - a wrong HMAC key: the CA refuses, and the error names the key id and the key file;
  - another key id with the same store: the next order creates a second account (one account
    per CA and key id), the first one stays;
  - a key file that breaks while the server runs: a graceful restart keeps serving and logs
    it (ACME00124), naming the file and the fix;
  - configtest rejects the directive in a <VirtualHost>, and a missing, non-regular, group- or world-readable key file, a key that
    is not base64url, an empty one, and a bad key id, naming the file and line and the fix.

EAB is in pebble 2.4 and 2.10 alike: these tests run on both (no pebble210 marker).
"""

import base64
import json
import os
import re
import subprocess

import pytest

import harness
from harness import VHost
import status_helpers as sh
from test_secrets import Secrets, read_as_user

KID = "kid-eab-1"
KID2 = "kid-eab-2"
# an HMAC key as CAs show it: base64url without padding (48 random bytes, made per run)
KEY_RAW = os.urandom(48)
KEY = base64.urlsafe_b64encode(KEY_RAW).rstrip(b"=").decode()
KEY2 = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
WRONG_KEY = base64.urlsafe_b64encode(os.urandom(48)).rstrip(b"=").decode()
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
SITE = VHost("eab.mod-acme.test")


@pytest.fixture(scope="module")
def eab_pebble(workdir, challtestsrv, ports):
    """A pebble that creates accounts only with EAB, knowing KID and KID2."""
    p = harness.Pebble(os.path.join(workdir, "pebble-eab"), challtestsrv.dns_port, ports[0],
                       ports[1], extra_config={"externalAccountBindingRequired": True,
                                               "externalAccountMACKeys": {KID: KEY, KID2: KEY2}})
    try:
        p.start()
        yield p
    finally:
        p.stop()


def write_key(directory, name, text, mode=0o600):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def acmectl(store, *args):
    res = subprocess.run([ACMECTL, "--store", store] + list(args), capture_output=True,
                         text=True, timeout=60)
    return res.stdout + res.stderr


def test_directory_requires_eab(eab_pebble):
    assert eab_pebble.directory()["meta"]["externalAccountRequired"] is True


def test_without_binding_clear_error(eab_pebble, httpd_factory):
    httpd = httpd_factory([SITE, sh.status_vhost()],
                          harness.acme_lines(eab_pebble, eab_pebble.ca_file))
    lines = httpd.wait_for(lambda: httpd.log_entries(r"ACME00033: no ACME account"), 90,
                           what="the account error (ACME00033)")
    line = lines[0][1]
    assert "External Account Binding (EAB)" in line, line
    assert "ACMEExternalAccountBinding KID KEY-FILE" in line, line

    def failed():
        status, j = sh.status_json(httpd, SITE.name)
        c = j["certificates"][0] if status == 200 and j.get("certificates") else {}
        return c if c.get("last_error") else None
    c = httpd.wait_for(failed, 30, what="the status page showing the error")
    assert c["state"] == "error", c
    assert "External Account Binding (EAB)" in c["last_error"]["detail"], c
    assert "ACMEExternalAccountBinding" in c["last_error"]["detail"], c
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, SITE.name)
    assert "ACMEExternalAccountBinding" in auto["last_error_detail"], auto
    show = acmectl(httpd.store, "show", SITE.name)
    assert re.search(r"Last Error:.*External Account Binding \(EAB\).*"
                     r"ACMEExternalAccountBinding", show), show
    # no account was made, no key generated for one
    assert os.listdir(os.path.join(httpd.store, "accounts")) == []


def test_with_binding_issues_and_key_never_shown(eab_pebble, httpd_factory, workdir):
    keydir = harness.make_tempdir("mod_acme-eab-key-")
    os.chmod(keydir, 0o700)
    try:
        key_file = write_key(keydir, "eab.key", KEY + "\n")
        uid, gid = harness.httpd_user_ids()
        res = subprocess.run(["/usr/bin/cat", key_file], capture_output=True, timeout=30,
                             user=uid, group=gid, extra_groups=[])
        assert res.returncode != 0 and KEY.encode() not in res.stdout, \
            "the test's key file is readable by the User"
        mark = eab_pebble.mark()
        httpd = httpd_factory([SITE, sh.status_vhost()],
                              harness.acme_lines(eab_pebble, eab_pebble.ca_file, extra=[
                                  'ACMEExternalAccountBinding %s "%s"' % (KID, key_file)]),
                              global_lines=["LogLevel acme:trace8"])
        httpd.wait_for_cert(SITE.name, eab_pebble, timeout=120, names=SITE.names)
        assert eab_pebble.count(r'Successful newAccount Binding with CA using kid "%s"' % KID,
                                since=mark) == 1, eab_pebble.log_text()[-3000:]
        accounts = os.listdir(os.path.join(httpd.store, "accounts"))
        name = "127.0.0.1_%d_dir+eab-%s" % (eab_pebble.port, KID)
        assert accounts == [name], accounts
        with open(os.path.join(httpd.store, "accounts", name, "account.json")) as f:
            assert json.load(f)["eab_kid"] == KID
        assert httpd.log_entries(r"ACME00205: ACME account created .*External Account "
                                 r"Binding key id %s" % KID)

        secrets = Secrets()
        secrets.add("EAB key (base64url)", KEY)
        secrets.add("EAB key (base64)", base64.b64encode(KEY_RAW).decode())
        secrets.add("EAB key (hex)", KEY_RAW.hex())
        with open(key_file) as f:      # positive control
            assert "EAB key (base64url)" in secrets.find(f.read())
        assert "EAB key (hex)" in secrets.find("x%sx" % KEY_RAW.hex())

        outputs = {}
        for path in (httpd.error_log_file, httpd.access_log_file, httpd.stderr_file):
            with open(path, errors="replace") as f:
                outputs[os.path.basename(path)] = f.read()
        assert re.search(r"\[acme:trace\d\]", outputs["error.log"]), "trace logging was not on"
        for path in ("/server-status", "/server-status?auto", "/acme-status",
                     "/acme-status/" + SITE.name, "/metrics"):
            r = sh.get(httpd, path)
            assert r.status == 200, (path, r)
            outputs[path] = r.text
        for args in (["list"], ["--json", "list"], ["show", SITE.name],
                     ["--json", "show", SITE.name]):
            outputs["acmectl " + " ".join(args)] = acmectl(httpd.store, *args)
        readable, _denied = read_as_user(httpd.store)
        assert any("/accounts/" in p for p in readable), sorted(readable)
        for p, data in readable.items():
            outputs["store file %s" % os.path.relpath(p, httpd.store)] = data.decode("latin-1")
        leaks = {what: secrets.find(text) for what, text in outputs.items()
                 if secrets.find(text)}
        assert not leaks, "the EAB key was found in: %r" % leaks
    finally:
        subprocess.run(["rm", "-rf", keydir], check=False)


def test_wrong_key_names_kid_and_file(eab_pebble, httpd_factory, workdir):
    key_file = write_key(workdir, "wrong-eab.key", WRONG_KEY)
    httpd = httpd_factory([SITE, sh.status_vhost()],
                          harness.acme_lines(eab_pebble, eab_pebble.ca_file, extra=[
                              'ACMEExternalAccountBinding %s "%s"' % (KID, key_file)]))
    lines = httpd.wait_for(lambda: httpd.log_entries(r"ACME00033: no ACME account"), 90,
                           what="the account error (ACME00033)")
    line = lines[0][1]
    print(line)
    assert "External Account Binding key id %s" % KID in line, line
    assert key_file in line, line
    assert WRONG_KEY not in httpd.error_log()


def test_other_kid_makes_another_account(eab_pebble, httpd_factory, workdir):
    store = harness.make_tempdir("mod_acme-eab-store-")
    try:
        key1 = write_key(workdir, "kid1.key", KEY)
        key2 = write_key(workdir, "kid2.key", KEY2)
        base = "127.0.0.1_%d_dir" % eab_pebble.port

        def lines(kid, key):
            return harness.acme_lines(eab_pebble, eab_pebble.ca_file, extra=[
                'ACMEStore "%s"' % store, 'ACMEExternalAccountBinding %s "%s"' % (kid, key)])
        httpd = httpd_factory([SITE], lines(KID, key1))
        first, _ = httpd.wait_for_cert(SITE.name, eab_pebble, timeout=120, names=SITE.names)
        assert os.listdir(os.path.join(store, "accounts")) == [base + "+eab-" + KID]
        httpd.stop()

        mark = eab_pebble.mark()
        httpd = httpd_factory([SITE], lines(KID2, key2))
        out = acmectl(store, "renew", SITE.name)
        assert "renewal requested" in out, out
        httpd.wait_for_cert(SITE.name, eab_pebble, timeout=120, not_serial=first.serial,
                            names=SITE.names)
        assert sorted(os.listdir(os.path.join(store, "accounts"))) == [
            base + "+eab-" + KID, base + "+eab-" + KID2]
        assert eab_pebble.count(r'Successful newAccount Binding with CA using kid "%s"' % KID2,
                                since=mark) == 1, eab_pebble.log_text()[-3000:]
    finally:
        subprocess.run(["rm", "-rf", store], check=False)


def test_key_file_broken_while_running(eab_pebble, httpd_factory, workdir):
    key_file = write_key(workdir, "later-broken.key", KEY)
    httpd = httpd_factory([SITE], harness.acme_lines(eab_pebble, eab_pebble.ca_file, extra=[
        'ACMEExternalAccountBinding %s "%s"' % (KID, key_file)]))
    os.chmod(key_file, 0o644)
    mark = httpd.log_mark()
    httpd.graceful()
    logged = httpd.wait_for(lambda: httpd.log_entries(r"ACME00124: ACMEExternalAccountBinding",
                                                      since=mark), 30,
                            what="ACME00124 for the key file")
    line = logged[0][1]
    assert key_file in line and "chmod 600" in line and "keeps running" in line, line
    assert httpd.running()
    assert httpd.get("/", SITE.name, tls=True, sni=SITE.name).status in (200, 503, 404)
    assert KEY not in httpd.error_log()


# ---- configtest -------------------------------------------------------------------------------

BAD_FILES = [
    # id, key file content (None: no file), mode, kid, what the message must say
    ("missing", None, 0o600, KID, "does not exist"),
    ("world-readable", KEY, 0o644, KID, "chmod 600"),
    ("group-readable", KEY, 0o640, KID, "chmod 600"),
    ("not-base64url", KEY[:20] + "+/" + KEY[22:], 0o600, KID, "base64url"),
    ("empty", "\n", 0o600, KID, "is empty"),
    ("too-short", "YWJjZA", 0o600, KID, "only 4 bytes"),
    ("directory", "DIR", 0o700, KID, "not a regular file"),
    ("bad-kid", KEY, 0o600, '"kid x"', "key id"),
]


@pytest.mark.parametrize("content,mode,kid,says", [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_configtest_rejects_bad_key_file(httpd_factory, workdir, content, mode, kid, says):
    d = harness.make_tempdir("mod_acme-eab-cfg-")
    try:
        path = os.path.join(d, "eab.key")
        if content == "DIR":
            os.mkdir(path, mode)
        elif content is not None:
            write_key(d, "eab.key", content, mode)
        directive = 'ACMEExternalAccountBinding %s "%s"' % (kid, path)
        httpd = httpd_factory([SITE], harness.acme_lines("https://127.0.0.1:14000/dir",
                                                          "/etc/ssl/certs/ca-certificates.crt",
                                                          extra=[directive]), start=False)
        lineno = httpd.line_of(directive)
        rc, out = httpd.configtest()
        assert rc != 0 and "Syntax OK" not in out, out
        marker = "line %d of %s:" % (lineno, httpd.conf)
        assert marker in out, out
        message = out[out.index(marker) + len(marker):]
        assert "ACMEExternalAccountBinding" in message, out
        assert says in message, out
        if kid == KID:
            assert path in message, out
        assert KEY not in out
    finally:
        subprocess.run(["rm", "-rf", d], check=False)


def test_configtest_rejects_directive_in_vhost(httpd_factory, workdir):
    path = write_key(workdir, "vhost.key", KEY)
    directive = 'ACMEExternalAccountBinding %s "%s"' % (KID, path)
    httpd = httpd_factory([VHost(SITE.name, lines=[directive])], harness.acme_lines(
        "https://127.0.0.1:14000/dir", "/etc/ssl/certs/ca-certificates.crt"), start=False)
    lineno = httpd.line_of(directive)
    rc, out = httpd.configtest()
    assert rc != 0 and "line %d of %s:" % (lineno, httpd.conf) in out, out
    assert "ACMEExternalAccountBinding" in out and "outside <VirtualHost>" in out, out


def test_configtest_accepts_root_only_key(httpd_factory, workdir):
    d = harness.make_tempdir("mod_acme-eab-cfg-")
    try:
        path = write_key(d, "eab.key", "  %s\n" % KEY, 0o400)
        httpd = httpd_factory([SITE], harness.acme_lines(
            "https://127.0.0.1:14000/dir", "/etc/ssl/certs/ca-certificates.crt",
            extra=['ACMEExternalAccountBinding %s "%s"' % (KID, path)]), start=False)
        rc, out = httpd.configtest()
        assert rc == 0 and "Syntax OK" in out, out
    finally:
        subprocess.run(["rm", "-rf", d], check=False)
