"""Spec 7: `apache2 -t` rejects wrong directive values with httpd's "Syntax error on line N of
FILE:" and a message naming the directive; the good configuration passes."""

import os
import re

import pytest

import harness
from harness import VHost


@pytest.fixture
def ca_file(workdir):
    path = os.path.join(workdir, "some-ca.pem")
    if not os.path.exists(path):
        harness.make_self_signed(workdir, ["ca.mod-acme.test"])
        os.replace(os.path.join(workdir, "static-cert.pem"), path)
    return path


def good_lines(ca_file):
    return [
        "ACMEServer https://127.0.0.1:14000/dir",
        'ACMEServerCAFile "%s"' % ca_file,
        "ACMEContact admin@example.org",
        "ACMEAgreeTerms on",
        "ACMEStore acme-store",
        "ACMEAutoRestart on",
        "ACME on",
    ]


VHOSTS = [VHost("cfg.mod-acme.test"), VHost("cfg.mod-acme.test", ssl=False)]

# (id, directive, bad line, where: "global" replaces the directive's global line, "vhost"
# adds the line inside the https <VirtualHost>)
BAD = [
    ("ACME-maybe", "ACME", "ACME maybe", "global"),
    ("ACMEServer-ftp", "ACMEServer", "ACMEServer ftp://x.test/dir", "global"),
    ("ACMEServer-not-a-url", "ACMEServer", "ACMEServer not-a-url", "global"),
    ("ACMEServerCAFile-missing", "ACMEServerCAFile", "ACMEServerCAFile /nonexistent.pem",
     "global"),
    ("ACMEContact-not-an-email", "ACMEContact", "ACMEContact not-an-email", "global"),
    ("ACMEAgreeTerms-maybe", "ACMEAgreeTerms", "ACMEAgreeTerms maybe", "global"),
    ("ACMEAutoRestart-maybe", "ACMEAutoRestart", "ACMEAutoRestart maybe", "global"),
    ("ACMEStore-empty", "ACMEStore", 'ACMEStore ""', "global"),
    ("ACMEServer-in-vhost", "ACMEServer", "ACMEServer https://127.0.0.1:14001/dir", "vhost"),
    ("ACMEContact-in-vhost", "ACMEContact", "ACMEContact other@example.org", "vhost"),
]


def _httpd(httpd_factory, lines, vhost_lines=()):
    vhosts = [VHost(VHOSTS[0].name, lines=list(vhost_lines)), VHOSTS[1]]
    return httpd_factory(vhosts, lines, start=False)


def test_good_config_passes(httpd_factory, ca_file):
    httpd = _httpd(httpd_factory, good_lines(ca_file))
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    # the good values in their other accepted spellings
    httpd = _httpd(httpd_factory, [
        "ACMEServer letsencrypt-staging", "ACMEContact mailto:admin@example.org",
        "ACMEAgreeTerms off", "ACMEAutoRestart off", "ACME off"], ["ACME on"])
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("directive,bad,where", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_value_fails_configtest(httpd_factory, ca_file, directive, bad, where):
    lines = good_lines(ca_file)
    if where == "global":
        lines = [bad if re.match(r"%s\s" % directive, line) else line for line in lines]
        assert bad in lines
        httpd = _httpd(httpd_factory, lines)
    else:
        httpd = _httpd(httpd_factory, lines, [bad])
    lineno = httpd.line_of(bad)
    rc, out = httpd.configtest()
    print(out)
    assert rc != 0, "apache2 -t accepted %r:\n%s" % (bad, out)
    assert "Syntax OK" not in out
    marker = "line %d of %s:" % (lineno, httpd.conf)
    assert marker in out, "expected 'Syntax error on %s' in:\n%s" % (marker, out)
    message = out[out.index(marker) + len(marker):]
    assert re.search(r"(?<![\w-])%s(?![\w-])" % directive, message, re.I), \
        "the message does not name %s:\n%s" % (directive, out)
    assert "Invalid command" not in message, "%s is not known to the module:\n%s" % (
        directive, out)
