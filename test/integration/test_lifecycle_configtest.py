"""Issue 3, test 7: `apache2 -t` rejects wrong values of the lifecycle directives
(ACMERenewWindow, ACMEWarnWindow, ACMERenewalInfo, ACMERetryDelay, ACMENotifyCmd) with
"Syntax error on line N of FILE:" and a message naming the directive; good values pass."""

import os
import re

import pytest

import harness
from harness import VHost

NAME = "cfg-life.mod-acme.test"


@pytest.fixture
def ca_file(workdir):
    path = os.path.join(workdir, "life-ca.pem")
    if not os.path.exists(path):
        d = os.path.join(workdir, "life-ca")
        harness.make_self_signed(d, ["ca.mod-acme.test"])
        os.replace(os.path.join(d, "static-cert.pem"), path)
    return path


def base_lines(ca_file):
    return ["ACMEServer https://127.0.0.1:14000/dir", 'ACMEServerCAFile "%s"' % ca_file,
            "ACMEContact admin@example.org", "ACMEAgreeTerms on", "ACME on"]


def _httpd(httpd_factory, glob, vhost=()):
    return httpd_factory([VHost(NAME, lines=list(vhost)), VHost(NAME, ssl=False)], glob,
                         start=False)


GOOD_GLOBAL = ["ACMERenewWindow 33%", "ACMEWarnWindow 10%", "ACMERenewalInfo on",
               "ACMERetryDelay 1m", "ACMENotifyCmd /bin/true --flag value"]
GOOD_VARIANTS = [("ACMERenewWindow 30d",), ("ACMERenewWindow 12h",), ("ACMERenewWindow 90s",),
                 ("ACMEWarnWindow 5d",), ("ACMERenewalInfo off",), ("ACMERetryDelay 100ms",),
                 ("ACMERetryDelay 30s",), ("ACMERetryDelay 2h",), ("ACMERetryDelay 1d",),
                 ("ACMENotifyCmd /bin/true",)]

# (id, directive, bad line, where)
BAD = [
    ("RenewWindow-word", "ACMERenewWindow", "ACMERenewWindow soon", "global"),
    ("RenewWindow-unit", "ACMERenewWindow", "ACMERenewWindow 10x", "global"),
    ("RenewWindow-negative", "ACMERenewWindow", "ACMERenewWindow -5%", "global"),
    ("RenewWindow-empty", "ACMERenewWindow", 'ACMERenewWindow ""', "global"),
    ("RenewWindow-vhost-bad", "ACMERenewWindow", "ACMERenewWindow 3 days", "vhost"),
    ("WarnWindow-word", "ACMEWarnWindow", "ACMEWarnWindow always", "global"),
    ("WarnWindow-percent-junk", "ACMEWarnWindow", "ACMEWarnWindow 10%%", "vhost"),
    ("RenewalInfo-maybe", "ACMERenewalInfo", "ACMERenewalInfo maybe", "global"),
    ("RenewalInfo-in-vhost", "ACMERenewalInfo", "ACMERenewalInfo off", "vhost"),
    ("RetryDelay-word", "ACMERetryDelay", "ACMERetryDelay soon", "global"),
    ("RetryDelay-negative", "ACMERetryDelay", "ACMERetryDelay -1s", "global"),
    ("RetryDelay-percent", "ACMERetryDelay", "ACMERetryDelay 10%", "global"),
    ("RetryDelay-in-vhost", "ACMERetryDelay", "ACMERetryDelay 1m", "vhost"),
    ("NotifyCmd-empty", "ACMENotifyCmd", "ACMENotifyCmd", "global"),
    ("NotifyCmd-in-vhost", "ACMENotifyCmd", "ACMENotifyCmd /bin/true", "vhost"),
]


def test_good_lifecycle_values_pass(httpd_factory, ca_file):
    httpd = _httpd(httpd_factory, base_lines(ca_file) + GOOD_GLOBAL,
                   ["ACMERenewWindow 50%", "ACMEWarnWindow 12h"])
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    for (line,) in GOOD_VARIANTS:
        httpd = _httpd(httpd_factory, base_lines(ca_file) + [line])
        rc, out = httpd.configtest()
        assert rc == 0 and "Syntax OK" in out, "%r refused:\n%s" % (line, out)


@pytest.mark.parametrize("directive,bad,where", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_lifecycle_value_fails(httpd_factory, ca_file, directive, bad, where):
    if where == "global":
        httpd = _httpd(httpd_factory, base_lines(ca_file) + [bad])
    else:
        httpd = _httpd(httpd_factory, base_lines(ca_file), [bad])
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
