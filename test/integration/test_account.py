"""Issue 10, test 5: account management against real pebble (no proxy, nothing mocked).

No ACMEContact: the account is created without a contact (the CA shows none). A changed
ACMEContact reaches the CA at the server's next run (the CA shows it). `acmectl account
rollover` replaces the account key at the CA and in the store; the next renewal is signed
with the new key (it succeeds, no new account). `acmectl revoke --with-cert-key` revokes with
the certificate's own key (pebble's management API shows it revoked). `acmectl account
deactivate` deactivates the account; the server makes a new one at its next run and renews
with it (on pebble 2.10, whose ARI makes the order carry "replaces", the CA refuses to let the
new account replace the old account's certificate: the order is sent again without it).
The CA's view of the account is read with `acmectl account show` (POST-as-GET to the account
URL, signed with the stored key), so every assertion about the CA is pebble's own answer.
Pebble 2.4 and 2.10 both implement these parts of RFC 8555: no pebble210 marker."""

import json
import os
import stat
import time

import harness
from harness import VHost
from test_acmectl import acmectl, pebble_cert_status
import status_helpers as sh

V = VHost("acct.mod-acme.test")


def account_dir(store):
    d = os.path.join(store, "accounts")
    names = [n for n in os.listdir(d) if not n.startswith(".")]
    assert len(names) == 1, names
    return os.path.join(d, names[0])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ca_view(store):
    """The account as pebble has it (acmectl account show --json)."""
    res = acmectl("--json", "account", "show", store=store)
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def lines(pebble, contact=None):
    out = ["ACMEServer %s" % pebble.directory_url, 'ACMEServerCAFile "%s"' % pebble.ca_file,
           "ACMEAgreeTerms on", "ACME on"]
    if contact:
        out.insert(0, "ACMEContact %s" % contact)
    return out


def test_account_usage_errors(tools):
    for args in (["account"], ["account", "bogus"], ["account", "show", "extra"],
                 ["list", "--with-cert-key"], ["list", "--ca", "https://x.test/dir"],
                 ["account", "rollover", "--all"]):
        res = acmectl(*args)
        assert res.returncode == 2, (args, res)
        assert "usage:" in res.stderr, (args, res.stderr)


def test_contact_rollover_revoke_deactivate(httpd_factory, pebble, timing):
    t0 = time.monotonic()
    httpd = httpd_factory([V], lines(pebble))
    first, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, names=V.names)
    store = httpd.store
    adir = account_dir(store)
    url0 = json.loads(read(os.path.join(adir, "account.json")))["url"]

    # ---- no ACMEContact (and no e-mail ServerAdmin): no contact at the CA
    view = ca_view(store)
    assert view["status"] == "valid" and view["contact"] == [], view
    assert "contact: none" in httpd.error_log()

    # ---- ACMEContact added: sent to the CA by the new generation at once, though no
    # certificate is due; the certificate stays
    mark = httpd.log_mark()
    httpd.acme_lines = lines(pebble, "admin@example.org")
    httpd.write_config()
    httpd.graceful()
    httpd.wait_for(lambda: httpd.log_entries(r"ACME00490", since=mark), 60,
                   what="the contact update logged")
    assert ca_view(store)["contact"] == ["mailto:admin@example.org"]
    rec = json.loads(read(os.path.join(adir, "account.json")))
    assert rec["contact"] == ["mailto:admin@example.org"] and rec["url"] == url0, rec
    assert not httpd.log_entries(r"ACME00491|ACME00205", since=mark), httpd.error_log()
    assert harness.norm_serial(httpd.cert(V.name).serial) == harness.norm_serial(first.serial)
    # ... once: the next generation finds nothing to send
    mark = httpd.log_mark()
    httpd.graceful()
    time.sleep(5)
    assert not httpd.log_entries(r"ACME00490", since=mark), httpd.error_log()
    second = first

    # ---- key rollover: the CA accepts the new key, the store holds it (sealed, 0600, owned
    # like accounts/), the old one is gone
    key_path = os.path.join(adir, "key.sealed")
    old_key = read(key_path)
    res = acmectl("account", "rollover", store=store)
    assert res.returncode == 0 and "account key was replaced" in res.stdout, res
    new_key = read(key_path)
    assert new_key != old_key and new_key.startswith(b"ACMESEAL1")
    st, owner = os.stat(key_path), os.stat(os.path.join(store, "accounts"))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (owner.st_uid, owner.st_gid)
    assert not os.path.exists(key_path + ".next")
    assert ca_view(store)["status"] == "valid"   # signed with the new key: pebble took it

    # ... then a renewal by the server signs with the new key: it succeeds, same account
    t1 = time.monotonic()
    mark = httpd.log_mark()
    res = acmectl("renew", V.name, store=store)
    assert res.returncode == 0, res
    third, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=second.serial,
                                   names=V.names)
    timing("account rollover -> renewal served", time.monotonic() - t1)
    assert not httpd.log_entries(r"ACME00205|ACME00151|ACME00033", since=mark), \
        httpd.error_log()
    assert read(key_path) == new_key
    assert json.loads(read(os.path.join(adir, "account.json")))["url"] == url0

    # ---- revoke with the certificate's own key (no account involved)
    res = acmectl("revoke", "--with-cert-key", V.name, "--reason", "keyCompromise",
                  store=store)
    assert res.returncode == 0 and "signed with the certificate's key" in res.stdout, res
    assert pebble_cert_status(pebble, third.serial) == "Revoked"
    assert pebble_cert_status(pebble, second.serial) != "Revoked"
    fourth, _ = httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=third.serial,
                                    names=V.names)

    # ---- deactivate: the CA ends the account; the server makes a new one, logged
    mark = httpd.log_mark()
    res = acmectl("account", "deactivate", store=store)
    assert res.returncode == 0 and "deactivated" in res.stdout, res
    res = acmectl("account", "show", store=store)
    assert res.returncode == 1 and "deactivated" in res.stderr, res
    res = acmectl("revoke", V.name, store=store)
    assert res.returncode == 1 and "--with-cert-key" in res.stderr, res
    assert pebble_cert_status(pebble, fourth.serial) != "Revoked"
    res = acmectl("renew", V.name, store=store)
    assert res.returncode == 0, res
    httpd.wait_for_cert(V.name, pebble, timeout=90, not_serial=fourth.serial, names=V.names)
    assert httpd.log_entries(r"ACME00492", since=mark), httpd.error_log()
    assert httpd.log_entries(r"ACME00205", since=mark), httpd.error_log()
    rec = json.loads(read(os.path.join(adir, "account.json")))
    assert rec["url"] != url0 and "status" not in rec, rec
    assert any(n.startswith("account.json.deactivated-") for n in os.listdir(adir))
    view = ca_view(store)
    assert view["status"] == "valid" and view["contact"] == ["mailto:admin@example.org"], view

    sh.assert_no_secret(httpd.error_log(), sh.secrets_of(store), "the error log")
    timing("account management: whole test", time.monotonic() - t0)
