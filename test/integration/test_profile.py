"""Issue 10, test 2: ACME profiles (ACMEProfile NAME [mandatory]) against pebble 2.10's own
profiles ("profiles" in its config: a lifetime per profile).

  - the profile is sent in newOrder, the issued lifetime is the profile's, and the renewal
    asks for it again;
  - a profile the CA does not offer: with `mandatory` no order and a clear error (error log,
    status page, ACMENotifyCmd "failed"); without it a warning and a plain order, and no
    re-order loop afterwards;
  - changing ACMEProfile + graceful restart orders a new certificate with the new lifetime;
  - `acmectl show` and the status page show the profile;
  - configtest does not warn about more than 25 names with a profile: they are split.

Every test talks to pebble through the TEST-ONLY proxy (acme_proxy.py), which injects nothing
here: it only records the decoded newOrder payloads (what the module asked for) and pebble's
answers (the order's "profile"). ARI is off in the proxy (pebble's renewalInfo is left out of
the directory) so that renewal times follow ACMERenewWindow alone. Pebble 2.10 picks a random
profile for an order that names none, so each test gives its pebble only the profiles it
needs for a deterministic lifetime."""

import json
import os
import time

import pytest

import harness
import status_helpers as sh
import test_acmectl as ctl
from harness import VHost

DEFAULT_S = 240
SHORT_S = 60
PROFILES = {
    "default": {"description": "test default profile", "validityPeriod": DEFAULT_S},
    "shortlived": {"description": "test short-lived profile", "validityPeriod": SHORT_S},
}
ONLY_DEFAULT = {"default": PROFILES["default"]}


def _pebble(pebble_factory, profiles):
    return pebble_factory(extra_config={"profiles": profiles})


def _lifetime(cert):
    # pebble: notAfter = notBefore + validityPeriod - 1 s
    return cert.not_after - cert.not_before + 1


def _orders(proxy):
    """(payload, pebble's answer) of each newOrder the module sent."""
    out = []
    for rec in proxy.new_orders():
        try:
            answer = json.loads(rec.response_body or b"{}")
        except ValueError:
            answer = {}
        out.append((rec.payload or {}, answer, rec.status))
    return out


def _show(httpd, name):
    res = ctl.acmectl("--json", "show", name, store=httpd.store)
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def _status(httpd, name):
    _, j = sh.status_json(httpd, name)
    return j["certificates"][0]


@pytest.mark.pebble210
def test_profile_sent_lifetime_and_reused_at_renewal(pebble_factory, proxy_factory,
                                                     httpd_factory, timing):
    """ACMEProfile shortlived in the VirtualHost: newOrder asks for it, the certificate lives
    the profile's 60 s, and the renewal (ACMERenewWindow 50%: about 30 s in) asks again."""
    peb = _pebble(pebble_factory, PROFILES)
    proxy = proxy_factory(peb, ari=False)
    v = VHost("short.mod-acme.test", lines=["ACMEProfile shortlived"])
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(
        proxy.directory_url, peb.ca_file, extra=["ACMERenewWindow 50%"]))
    t0 = time.monotonic()
    c1, _ = httpd.wait_for_cert(v.name, peb, timeout=60, names=v.names)
    timing("ACMEProfile shortlived: start -> certificate served", time.monotonic() - t0)
    assert _lifetime(c1) == SHORT_S, "lifetime %d s, the profile says %d s" % (
        _lifetime(c1), SHORT_S)
    orders = _orders(proxy)
    assert len(orders) == 1, proxy.summary()
    payload, answer, status = orders[0]
    assert status == 201 and payload.get("profile") == "shortlived", orders
    assert answer.get("profile") == "shortlived", answer

    c = _status(httpd, v.name)
    assert c["profile"] == "shortlived" and c["profile_fallback"] is False, c
    auto = sh.parse_auto(sh.get(httpd, "/server-status?auto").text, v.name)
    assert auto.get("profile") == "shortlived", auto
    shown = _show(httpd, v.name)
    assert shown["profile"] == "shortlived" and shown["profile_fallback"] is False, shown
    res = ctl.acmectl("show", v.name, store=httpd.store)
    assert "Profile: shortlived\n" in res.stdout, res.stdout

    # the renewal: the same profile again, the same lifetime
    t1 = time.monotonic()
    c2, _ = httpd.wait_for_cert(v.name, peb, timeout=120, not_serial=c1.serial,
                                names=v.names)
    timing("shortlived certificate renewed (window 50%% of %d s)" % SHORT_S,
           time.monotonic() - t1)
    assert _lifetime(c2) == SHORT_S, _lifetime(c2)
    orders = _orders(proxy)
    assert len(orders) >= 2, proxy.summary()
    assert all(o[0].get("profile") == "shortlived" for o in orders), orders
    assert all(o[1].get("profile") == "shortlived" for o in orders if o[2] == 201), orders
    assert "ACME00470" not in httpd.error_log()


@pytest.mark.pebble210
def test_mandatory_profile_absent_is_a_clear_error(pebble_factory, proxy_factory,
                                                   httpd_factory, workdir, timing):
    """ACMEProfile tlsserver mandatory, and pebble offers only "default": no newOrder at
    all; the error log, the status page, acmectl and ACMENotifyCmd say why."""
    peb = _pebble(pebble_factory, ONLY_DEFAULT)
    proxy = proxy_factory(peb, ari=False)
    d = os.path.join(workdir, "notify-profile-mandatory")
    script = harness.write_notify_script(d)
    v = VHost("mandatory.mod-acme.test")
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(
        proxy.directory_url, peb.ca_file,
        extra=["ACMEProfile tlsserver mandatory", "ACMENotifyCmd %s" % script]))
    want = "ACMEProfile tlsserver mandatory: the CA at %s does not offer the profile " \
           "'tlsserver' (it offers: default)" % proxy.directory_url

    def failed():
        c = _status(httpd, v.name)
        return c if c["state"] == "error" else None
    t0 = time.monotonic()
    c = httpd.wait_for(failed, 60, interval=0.5, what="%s in state error" % v.name)
    timing("mandatory profile absent -> error on the status page", time.monotonic() - t0)
    assert want in c["last_error"]["detail"], c
    assert c["profile"] == "tlsserver", c
    assert want in httpd.error_log()
    assert proxy.new_orders() == [], proxy.summary()
    assert httpd.cert(v.name).is_fallback

    def notified():
        recs = [r for r in harness.notify_records(d)
                if r["args"][:2] == ["failed", v.name]]
        return recs or None
    recs = httpd.wait_for(notified, 30, what="ACMENotifyCmd failed for %s" % v.name)
    assert want in recs[0]["env"].get("ACME_ERROR_DETAIL", ""), recs[0]

    res = ctl.acmectl("show", v.name, store=httpd.store)
    assert "Profile: tlsserver" in res.stdout and "does not offer the profile" in res.stdout, \
        res.stdout


@pytest.mark.pebble210
def test_profile_not_offered_falls_back_once(pebble_factory, proxy_factory, httpd_factory,
                                             timing):
    """ACMEProfile tlsserver (not mandatory), pebble offers only "default": a warning
    (ACME00470), an order without "profile" (pebble's default lifetime), the fallback shown,
    and no further order once that certificate is live."""
    peb = _pebble(pebble_factory, ONLY_DEFAULT)
    proxy = proxy_factory(peb, ari=False)
    v = VHost("fallback.mod-acme.test")
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(
        proxy.directory_url, peb.ca_file, extra=["ACMEProfile tlsserver"]))
    t0 = time.monotonic()
    c1, _ = httpd.wait_for_cert(v.name, peb, timeout=60, names=v.names)
    timing("profile not offered -> certificate with the CA's default", time.monotonic() - t0)
    assert _lifetime(c1) == DEFAULT_S, _lifetime(c1)
    orders = _orders(proxy)
    assert len(orders) == 1 and "profile" not in orders[0][0], orders
    assert orders[0][1].get("profile") == "default", orders[0][1]
    log = httpd.error_log()
    assert "ACME00470" in log and "does not offer the profile 'tlsserver' (it offers: " \
        "default): ordering with the CA's default profile" in log, log[-3000:]

    c = _status(httpd, v.name)
    assert c["profile"] == "tlsserver" and c["profile_fallback"] is True, c
    assert c["next_action"]["action"] == "none", c
    html = sh.get(httpd, "/server-status").text
    assert "tlsserver (not offered by the CA: its default profile was used)" in html
    res = ctl.acmectl("show", v.name, store=httpd.store)
    assert "Profile: tlsserver (not offered by the CA: its default profile was used)" \
        in res.stdout, res.stdout

    # no loop: the live certificate was ordered for this ACMEProfile
    time.sleep(5)
    assert len(proxy.new_orders()) == 1, proxy.summary()
    assert httpd.cert(v.name).serial == c1.serial


@pytest.mark.pebble210
def test_profile_change_orders_new_certificate(pebble_factory, proxy_factory, httpd_factory,
                                               timing):
    """ACMEProfile default -> shortlived, then a graceful restart: one new order, for
    shortlived, and the new certificate has that profile's lifetime."""
    peb = _pebble(pebble_factory, PROFILES)
    proxy = proxy_factory(peb, ari=False)
    v = VHost("change.profile.mod-acme.test")
    httpd = httpd_factory([v, sh.status_vhost()], harness.acme_lines(
        proxy.directory_url, peb.ca_file, extra=["ACMEProfile default"]))
    c1, _ = httpd.wait_for_cert(v.name, peb, timeout=60, names=v.names)
    assert _lifetime(c1) == DEFAULT_S, _lifetime(c1)
    assert [o[0].get("profile") for o in _orders(proxy)] == ["default"]

    httpd.acme_lines = harness.acme_lines(proxy.directory_url, peb.ca_file,
                                          extra=["ACMEProfile shortlived"])
    httpd.write_config()
    httpd.graceful()
    t_reload = time.monotonic()
    c2, _ = httpd.wait_for_cert(v.name, peb, timeout=60, not_serial=c1.serial, names=v.names)
    timing("ACMEProfile changed -> new certificate served", time.monotonic() - t_reload)
    assert _lifetime(c2) == SHORT_S, _lifetime(c2)
    profiles = [o[0].get("profile") for o in _orders(proxy)]
    assert profiles[:2] == ["default", "shortlived"], profiles
    assert "profile changed (certificate: default; configured: shortlived)" in httpd.error_log()
    assert _show(httpd, v.name)["profile"] == "shortlived"


def test_configtest_many_names_with_profile_no_warning(httpd_factory):
    """26 names on one vhost with ACMEProfile: configtest passes without the old "the CA may
    refuse" warning (ACME00471): at start the names are split into certificates of at most 25
    (test_sni_split.py)."""
    base = ["ACMEServer https://127.0.0.1:14000/dir", "ACMEContact admin@example.org",
            "ACMEAgreeTerms on", "ACME on"]

    def run(n, profile_lines):
        v = VHost("many.mod-acme.test",
                  aliases=["a%d.many.mod-acme.test" % i for i in range(n - 1)],
                  lines=profile_lines)
        httpd = httpd_factory([v], base, start=False)
        rc, out = httpd.configtest()
        print(out)
        assert rc == 0 and "Syntax OK" in out, out
        return out
    assert "ACME00471" not in run(26, ["ACMEProfile tlsserver"])
    assert "ACME00471" not in run(26, [])
