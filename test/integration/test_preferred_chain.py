"""Issue 10, test 4: ACMEPreferredChain against pebble's alternate roots (real pebble,
PEBBLE_ALTERNATE_ROOTS=2: three chains, the same intermediate name and key under three
roots; pebble offers the other two as Link rel="alternate" of each certificate download).
Pebble 2.10 and Debian 12's 2.4 both have alternate roots: no pebble210 marker (passes on
both).

One httpd, three certificates, the directive written per VirtualHost:
- the name of alternate root 2 (in other letter case): the served chain's top certificate is
  pebble's /intermediates/2, issued by /roots/2, and the chain verifies against that root
  alone; live meta.json records the root's name;
- a name no chain ends at: the default chain (/intermediates/0) is served and the error log
  warns (ACME00480) naming the issuers offered;
- no directive: the default chain, and no alternate is fetched for it.
acme-status, server-status?auto and `acmectl show` say where each live chain ends; the
status pages warn for the certificate whose preference was not met.

Configtest only: bad values of ACMEPreferredChain and ACMEKeyReuse fail `apache2 -t` naming
the directive and line; two https vhosts for the same names that prefer different chains
conflict (ACME00120)."""

import json
import os
import re
import subprocess
import tempfile

import pytest

import harness
from harness import VHost
import status_helpers as sh

PREF = VHost("pc-pref.mod-acme.test")
MISS = VHost("pc-miss.mod-acme.test")
PLAIN = VHost("pc-plain.mod-acme.test")
ACMECTL = os.environ.get("ACMECTL", os.path.join(harness.REPO, "build", "tools", "acmectl"))
PEM_RX = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def served_chain(port, sni):
    """The certificates httpd sends for sni, leaf first, as harness.CertInfo."""
    res = subprocess.run([harness.OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                          "-servername", sni, "-showcerts"], input="", capture_output=True,
                         text=True, timeout=20)
    return [harness.CertInfo(m + "\n") for m in PEM_RX.findall(res.stdout)]


def der(pem):
    return subprocess.run([harness.OPENSSL, "x509", "-outform", "DER"], input=pem.encode(),
                          capture_output=True, check=True).stdout


def mgmt(peb, path):
    status, body = peb.get("https://127.0.0.1:%d%s" % (peb.mgmt_port, path))
    assert status == 200, (path, status)
    return body


def verifies_against(chain, root_pem):
    """openssl verify of the leaf with the rest of the served chain as untrusted, against
    root_pem alone (no -partial_chain: the chain must lead to that root)."""
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, text in (("root", root_pem),
                           ("untrusted", "".join(c.pem for c in chain[1:])),
                           ("leaf", chain[0].pem)):
            paths[name] = os.path.join(d, name + ".pem")
            with open(paths[name], "w") as f:
                f.write(text)
        res = subprocess.run([harness.OPENSSL, "verify", "-CAfile", paths["root"],
                              "-untrusted", paths["untrusted"], paths["leaf"]],
                             capture_output=True, text=True)
        return res.returncode == 0, res.stdout + res.stderr


def test_preferred_chain_served(httpd_factory, pebble_factory):
    peb = pebble_factory(env={"PEBBLE_ALTERNATE_ROOTS": "2"})
    roots = [mgmt(peb, "/roots/%d" % i) for i in range(3)]
    inters = [mgmt(peb, "/intermediates/%d" % i) for i in range(3)]
    names = [harness.CertInfo(r).subject_cn for r in roots]
    assert len(set(names)) == 3, names
    wanted = names[2]
    vhosts = [
        VHost(PREF.name, lines=['ACMEPreferredChain "%s"' % wanted.upper()]),
        VHost(PREF.name, ssl=False),
        VHost(MISS.name, lines=['ACMEPreferredChain "No Such Root X9"']),
        VHost(MISS.name, ssl=False),
        PLAIN, VHost(PLAIN.name, ssl=False), sh.status_vhost(),
    ]
    mark = peb.mark()
    httpd = httpd_factory(vhosts, harness.acme_lines(peb, peb.ca_file))
    for v in (PREF, MISS, PLAIN):
        httpd.wait_for_cert(v.name, peb, timeout=90, names=v.names)

    # the preferred one: ends at alternate root 2
    chain = served_chain(httpd.https_port, PREF.name)
    assert len(chain) >= 2, chain
    top = chain[-1]
    assert top.issuer_cn == wanted, (top, names)
    assert der(top.pem) == der(inters[2]), "the top certificate is not pebble's " \
        "/intermediates/2:\n%s" % top.text
    ok, out = verifies_against(chain, roots[2])
    assert ok, out
    ok, out = verifies_against(chain, roots[0])
    assert not ok, "the chain of %s also verifies against the default root" % PREF.name
    with open(os.path.join(httpd.store, "live", PREF.name, "meta.json")) as f:
        assert json.load(f)["chain"] == wanted
    assert httpd.log_entries(r"ACME00481: certificate %s: took the alternate chain "
                             % re.escape(PREF.name)), httpd.diagnostics()

    # nothing ends at the name: the default chain, and a warning naming what was offered
    for v in (MISS, PLAIN):
        chain = served_chain(httpd.https_port, v.name)
        assert chain and chain[-1].issuer_cn == names[0], (v.name, chain)
        assert der(chain[-1].pem) == der(inters[0]), v.name
        ok, out = verifies_against(chain, roots[0])
        assert ok, out
    warn = httpd.log_entries(r"ACME00480: certificate %s: no chain the CA offers ends at "
                             r"'No Such Root X9'" % re.escape(MISS.name))
    assert warn, httpd.diagnostics()
    for n in names:
        assert "'%s'" % n in warn[-1][1], (n, warn[-1][1])
    assert not httpd.log_entries(r"ACME0048[01]: certificate %s:" % re.escape(PLAIN.name))
    # certificate downloads (pebble logs the handler, not the path): 3 default chains, 2
    # alternates for the preferred one (alternate 1, then 2, the match), 2 for the miss, none
    # for the plain one (a resumed download may fetch again)
    downloads = peb.count(r"POST /certZ/ -> calling handler", since=mark)
    assert 7 <= downloads <= 12, downloads

    # status: where each chain ends; a warning only where the preference was not met
    status, j = sh.status_json(httpd)
    assert status == 200
    by_id = {c["id"]: c["chain"] for c in j["certificates"]}
    assert by_id[PREF.name] == {"top_issuer": wanted, "preferred": wanted.upper(),
                                "warning": None}, by_id
    assert by_id[PLAIN.name] == {"top_issuer": names[0], "preferred": None, "warning": None}
    miss = by_id[MISS.name]
    assert miss["top_issuer"] == names[0] and miss["preferred"] == "No Such Root X9", miss
    assert "No Such Root X9" in miss["warning"] and names[0] in miss["warning"], miss
    auto = sh.get(httpd, "/server-status?auto").text
    assert sh.parse_auto(auto, MISS.name)["chain_warning"] == miss["warning"]
    assert "chain_warning" not in sh.parse_auto(auto, PREF.name)
    assert sh.parse_auto(auto, PREF.name)["chain"] == wanted
    res = subprocess.run([ACMECTL, "--store", httpd.store, "show", PREF.name],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "Chain Ends At: %s" % wanted in res.stdout, res


@pytest.mark.parametrize("bad", ['ACMEPreferredChain ""', "ACMEPreferredChain",
                                 "ACMEPreferredChain a b", "ACMEKeyReuse yes", "ACMEKeyReuse"])
def test_bad_values_fail_configtest(httpd_factory, acme_config, bad):
    v = VHost("pc-bad.mod-acme.test")
    httpd = httpd_factory([v], acme_config + [bad], start=False)
    rc, out = httpd.configtest()
    assert rc != 0 and bad.split()[0] in out and "line %d of" % httpd.line_of(bad) in out, out


def test_conflicting_preferences_fail_configtest(httpd_factory, acme_config):
    name = "pc-conflict.mod-acme.test"
    vhosts = [VHost(name, lines=['ACMEPreferredChain "Root One"', "ACMEKeyReuse on"]),
              VHost(name, lines=['ACMEPreferredChain "root one"', "ACMEKeyReuse off"]),
              VHost(name + "2", lines=['ACMEPreferredChain "Root One"']),
              VHost(name + "2", lines=['ACMEPreferredChain "Root Two"'])]
    httpd = httpd_factory(vhosts, acme_config, start=False)
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00120" in out and "set ACMEKeyReuse differently" in out, out
    assert "set ACMEPreferredChain differently: 'root one' in" in out, out
    # names are matched case-insensitively: "Root One" and "root one" are one preference
    assert out.count("set ACMEPreferredChain differently") == 1, out
    # the same values (key reuse written once) pass
    httpd.vhosts = [VHost(name, lines=['ACMEPreferredChain "Root One"', "ACMEKeyReuse on"]),
                    VHost(name, lines=['ACMEPreferredChain "Root One"'])]
    httpd.write_config()
    rc, out = httpd.configtest()
    assert rc == 0, out
