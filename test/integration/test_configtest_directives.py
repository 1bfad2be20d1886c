"""Issue 8, test 9: every directive of the module with bad values fails `apache2 -t`.

Table-driven: each case writes one bad line (in the server config, in the https
<VirtualHost>, or in a <Directory> section) into an otherwise good configuration. The
configtest must exit non-zero (not by a signal: no crash), print no "Syntax OK", name the
directive, the configuration file and the line of the bad directive, and say what is wrong.
Missing, unreadable, directory and non-PEM files and programs are among the cases, also
those only the server's User (www-data) cannot use: the background worker reads the CA file
and runs the programs as that User. No CA is needed (nothing is started)."""

import os
import re
import shutil
import stat

import pytest

import harness
from harness import VHost

NAME = "cfgd.mod-acme.test"


@pytest.fixture(scope="module")
def files(workdir):
    """Paths of good and bad files and programs for the table (placeholders in lines)."""
    d = os.path.join(workdir, "files")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    cert, key = harness.make_self_signed(os.path.join(d, "ca"), ["ca.mod-acme.test"])
    os.chmod(os.path.join(d, "ca"), 0o755)
    os.chmod(key, 0o644)

    def write(name, text, mode):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path
    f = {
        "CA": cert,
        "KEYPEM": key,
        "TEXT": write("not-pem.txt", "this is not a certificate\n", 0o644),
        "EMPTY": write("empty.pem", "", 0o644),
        "BROKENPEM": write("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                           "-----END CERTIFICATE-----\n", 0o644),
        "ROOTONLY": write("root-only.pem", open(cert).read(), 0o600),
        "DIR": d,
        "MISSING": os.path.join(d, "missing.pem"),
        "PROG": write("prog.sh", "#!/bin/sh\nexit 0\n", 0o755),
        "NOEXEC": write("noexec.sh", "#!/bin/sh\nexit 0\n", 0o644),
        "ROOTPROG": write("root-prog.sh", "#!/bin/sh\nexit 0\n", 0o700),
        "MISSINGPROG": os.path.join(d, "missing.sh"),
        "FILE": write("plain-file", "x\n", 0o644),
        "SHORTKEY": write("short-fleet.key", "0123abcd\n", 0o600),
    }
    os.chown(f["SHORTKEY"], 0, 0)
    os.chown(f["ROOTONLY"], 0, 0)
    os.chown(f["ROOTPROG"], 0, 0)
    return f


def base_lines(files):
    return ["ACMEServer https://127.0.0.1:14000/dir", 'ACMEServerCAFile "%s"' % files["CA"],
            "ACMEContact admin@example.org", "ACMEAgreeTerms on", "ACME on"]


# (id, directive, bad line, where, what the message must say (regex, case-insensitive))
# where: "global" (server config; replaces a line of the same directive), "vhost" (inside
# the https <VirtualHost>), "dir" (inside a <Directory> section)
BAD = [
    ("ACME-word", "ACME", "ACME maybe", "global", "on.*off"),
    ("ACME-no-arg", "ACME", "ACME", "global", "argument"),
    ("ACME-two-args", "ACME", "ACME on off", "vhost", "argument"),
    ("ACME-in-directory", "ACME", "ACME on", "dir", "not allowed"),
    ("ACMEServer-ftp", "ACMEServer", "ACMEServer ftp://x.test/dir", "global", "https://"),
    ("ACMEServer-no-host", "ACMEServer", "ACMEServer https:///dir", "global", "https://"),
    ("ACMEServer-in-vhost", "ACMEServer", "ACMEServer letsencrypt", "vhost", "server config"),
    ("ACMEServer-buypass", "ACMEServer", "ACMEServer letsencrypt buypass", "global",
     "Buypass closed its ACME service"),
    ("ACMEServer-twice", "ACMEServer", "ACMEServer google https://dv.acme-v02.api.pki.goog/"
     "directory", "global", "given twice"),
    ("ACMEServer-second-ftp", "ACMEServer", "ACMEServer zerossl ftp://x.test/dir", "global",
     "https://"),
    ("CAFile-missing", "ACMEServerCAFile", 'ACMEServerCAFile "{MISSING}"', "global",
     "does not exist"),
    ("CAFile-relative-missing", "ACMEServerCAFile", "ACMEServerCAFile conf/nope.pem", "global",
     r"/conf/nope\.pem' does not exist"),
    ("CAFile-directory", "ACMEServerCAFile", 'ACMEServerCAFile "{DIR}"', "global",
     "is a directory"),
    ("CAFile-text", "ACMEServerCAFile", 'ACMEServerCAFile "{TEXT}"', "global",
     "no PEM certificate"),
    ("CAFile-empty", "ACMEServerCAFile", 'ACMEServerCAFile "{EMPTY}"', "global",
     "no PEM certificate"),
    ("CAFile-key-not-cert", "ACMEServerCAFile", 'ACMEServerCAFile "{KEYPEM}"', "global",
     "no PEM certificate"),
    ("CAFile-broken-pem", "ACMEServerCAFile", 'ACMEServerCAFile "{BROKENPEM}"', "global",
     "no PEM certificate"),
    ("CAFile-user-cannot-read", "ACMEServerCAFile", 'ACMEServerCAFile "{ROOTONLY}"', "global",
     r"User \(www-data\) cannot read"),
    ("CAFile-in-vhost", "ACMEServerCAFile", 'ACMEServerCAFile "{KEYPEM}"', "vhost",
     "server config"),
    ("ACMEContact-not-email", "ACMEContact", "ACMEContact webmaster", "global",
     "not an e-mail"),
    ("ACMEContact-no-dot", "ACMEContact", "ACMEContact admin@localhost", "global",
     "not an e-mail"),
    ("ACMEContact-in-vhost", "ACMEContact", "ACMEContact a@example.org", "vhost",
     "server config"),
    ("ACMEAgreeTerms-word", "ACMEAgreeTerms", "ACMEAgreeTerms yes", "global", "on.*off"),
    ("ACMEStore-empty", "ACMEStore", 'ACMEStore ""', "global", "argument|directory"),
    ("ACMEStore-file", "ACMEStore", 'ACMEStore "{FILE}"', "global", "not a directory"),
    ("ACMEStore-under-file", "ACMEStore", 'ACMEStore "{FILE}/acme"', "global",
     "cannot be used"),
    ("ACMEStore-two-dirs", "ACMEStore", "ACMEStore a b", "global", "one directory"),
    ("ACMEStore-pgsql-unclosed", "ACMEStore", 'ACMEStore pgsql:"host=db dbname=acme', "global",
     "not closed"),
    ("ACMEStore-pgsql-empty", "ACMEStore", 'ACMEStore pgsql:""', "global", "empty"),
    ("ACMEStore-pgsql-in-vhost", "ACMEStore", 'ACMEStore pgsql:"host=db"', "vhost",
     "server config"),
    ("ACMEStore-pgsql-without-key", "ACMEStore", 'ACMEStore pgsql:"host=127.0.0.1 dbname=x"',
     "global", "needs ACMEFleetKeyFile"),
    ("PasswordFile-missing", "ACMEStorePasswordFile", 'ACMEStorePasswordFile "{MISSING}"',
     "global", "does not exist"),
    ("PasswordFile-world-readable", "ACMEStorePasswordFile", 'ACMEStorePasswordFile "{TEXT}"',
     "global", "root"),
    ("FleetKeyFile-missing", "ACMEFleetKeyFile", 'ACMEFleetKeyFile "{MISSING}"', "global",
     "does not exist"),
    ("FleetKeyFile-short", "ACMEFleetKeyFile", 'ACMEFleetKeyFile "{SHORTKEY}"', "global",
     "neither 32 raw bytes, 64 hex digits nor base64"),
    ("FleetKeyFile-world-readable", "ACMEFleetKeyFile", 'ACMEFleetKeyFile "{TEXT}"', "global",
     "root"),
    ("FleetNode-space", "ACMEFleetNode", 'ACMEFleetNode "web 1"', "global", "not a node name"),
    ("FleetNode-in-vhost", "ACMEFleetNode", "ACMEFleetNode web1", "vhost", "server config"),
    ("ACMEAutoRestart-word", "ACMEAutoRestart", "ACMEAutoRestart 1", "global", "on.*off"),
    ("ACMEKeyType-rsa1024", "ACMEKeyType", "ACMEKeyType rsa1024", "vhost", "p256"),
    ("ACMEKeyType-in-directory", "ACMEKeyType", "ACMEKeyType p384", "dir", "not allowed"),
    ("ACMEProfile-bad-name", "ACMEProfile", "ACMEProfile a/b", "vhost", "not a profile name"),
    ("ACMEProfile-bad-word", "ACMEProfile", "ACMEProfile shortlived always", "global",
     "only word allowed after the name is 'mandatory'"),
    ("ACMEProfile-in-directory", "ACMEProfile", "ACMEProfile shortlived", "dir", "not allowed"),
    ("RenewWindow-zero", "ACMERenewWindow", "ACMERenewWindow 0", "global", "out of range"),
    ("RenewWindow-zero-percent", "ACMERenewWindow", "ACMERenewWindow 0%", "vhost",
     "out of range"),
    ("RenewWindow-100-percent", "ACMERenewWindow", "ACMERenewWindow 100%", "global",
     "out of range"),
    ("RenewWindow-150-percent", "ACMERenewWindow", "ACMERenewWindow 150%", "vhost",
     "out of range"),
    ("RenewWindow-negative", "ACMERenewWindow", "ACMERenewWindow -5d", "global",
     "not a window"),
    ("RenewWindow-absurd", "ACMERenewWindow", "ACMERenewWindow 100000d", "vhost",
     "out of range"),
    ("RenewWindow-overflow", "ACMERenewWindow", "ACMERenewWindow 99999999999999999999d",
     "global", "not a window"),
    ("WarnWindow-100-percent", "ACMEWarnWindow", "ACMEWarnWindow 100%", "global",
     "out of range"),
    ("WarnWindow-absurd", "ACMEWarnWindow", "ACMEWarnWindow 100000d", "vhost", "out of range"),
    ("WarnWindow-word", "ACMEWarnWindow", "ACMEWarnWindow week", "vhost", "not a window"),
    ("RenewalInfo-word", "ACMERenewalInfo", "ACMERenewalInfo auto", "global", "on.*off"),
    ("RenewalInfo-in-vhost", "ACMERenewalInfo", "ACMERenewalInfo off", "vhost",
     "server config"),
    ("StatelessHTTP01-word", "ACMEStatelessHTTP01", "ACMEStatelessHTTP01 yes", "global",
     "on.*off"),
    ("StatelessHTTP01-in-vhost", "ACMEStatelessHTTP01", "ACMEStatelessHTTP01 on", "vhost",
     "server config"),
    ("RetryDelay-zero", "ACMERetryDelay", "ACMERetryDelay 0", "global", "out of range"),
    ("RetryDelay-two-days", "ACMERetryDelay", "ACMERetryDelay 2d", "global", "out of range"),
    ("RetryDelay-absurd", "ACMERetryDelay", "ACMERetryDelay 100000d", "global",
     "out of range"),
    ("RetryDelay-negative", "ACMERetryDelay", "ACMERetryDelay -1m", "global",
     "not a duration"),
    ("MaxParallel-zero", "ACMEMaxParallel", "ACMEMaxParallel 0", "global", "from 1 to 256"),
    ("MaxParallel-too-many", "ACMEMaxParallel", "ACMEMaxParallel 1000", "global",
     "from 1 to 256"),
    ("MaxParallel-word", "ACMEMaxParallel", "ACMEMaxParallel many", "global", "not a number"),
    ("MaxParallel-in-vhost", "ACMEMaxParallel", "ACMEMaxParallel 4", "vhost", "server config"),
    ("OrderRate-no-period", "ACMEOrderRate", "ACMEOrderRate 300", "global", "N/PERIOD"),
    ("OrderRate-zero", "ACMEOrderRate", "ACMEOrderRate 0/3h", "global", "from 1 to"),
    ("OrderRate-short-period", "ACMEOrderRate", "ACMEOrderRate 10/500ms", "global",
     "from 1s to 7d"),
    ("OrderRate-in-vhost", "ACMEOrderRate", "ACMEOrderRate 300/3h", "vhost", "server config"),
    ("RequestRates-unknown", "ACMERequestRates", "ACMERequestRates 20/1s", "global",
     "not auto, letsencrypt or off"),
    ("RequestRates-in-vhost", "ACMERequestRates", "ACMERequestRates off", "vhost",
     "server config"),
    ("Challenges-unknown", "ACMEChallenges", "ACMEChallenges http-02", "vhost",
     "not a challenge type"),
    ("Challenges-twice", "ACMEChallenges", "ACMEChallenges dns-01 dns-01", "global", "twice"),
    ("Challenges-dns01-without-hook", "ACMEChallenges", "ACMEChallenges dns-01", "vhost",
     "no ACMEDNSHook"),
    ("DNSHook-relative", "ACMEDNSHook", "ACMEDNSHook hook.sh", "global", "absolute path"),
    ("DNSHook-missing", "ACMEDNSHook", 'ACMEDNSHook "{MISSINGPROG}" --zone x', "vhost",
     "does not exist"),
    ("DNSHook-directory", "ACMEDNSHook", 'ACMEDNSHook "{DIR}"', "global", "is a directory"),
    ("DNSHook-not-executable", "ACMEDNSHook", 'ACMEDNSHook "{NOEXEC}"', "vhost",
     r"not executable"),
    ("DNSHook-user-cannot-run", "ACMEDNSHook", 'ACMEDNSHook "{ROOTPROG}"', "vhost",
     r"User \(www-data\) cannot run"),
    ("DNSHook-no-args", "ACMEDNSHook", "ACMEDNSHook", "global", "absolute path"),
    ("Propagation-absurd", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout 100000d",
     "vhost", "out of range"),
    ("Propagation-two-hours", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout 2h",
     "global", "out of range"),
    ("Propagation-negative", "ACMEDNSPropagationTimeout", "ACMEDNSPropagationTimeout -1",
     "global", "not a duration"),
    ("Resolver-name", "ACMEDNSResolver", "ACMEDNSResolver ns.example.org", "vhost",
     "not an IPv4"),
    ("Resolver-port-zero", "ACMEDNSResolver", "ACMEDNSResolver 127.0.0.1:0", "global",
     "not an IPv4"),
    ("PortMap-zero", "ACMEPortMap", "ACMEPortMap 80:0", "global", "not a port mapping"),
    ("PortMap-public-22", "ACMEPortMap", "ACMEPortMap 22:8080", "global",
     "not a port mapping"),
    ("PortMap-in-vhost", "ACMEPortMap", "ACMEPortMap 80:8080", "vhost", "server config"),
    ("NotifyCmd-relative", "ACMENotifyCmd", "ACMENotifyCmd notify.sh", "global",
     "absolute path"),
    ("NotifyCmd-missing", "ACMENotifyCmd", 'ACMENotifyCmd "{MISSINGPROG}" root', "global",
     "does not exist"),
    ("NotifyCmd-directory", "ACMENotifyCmd", 'ACMENotifyCmd "{DIR}"', "global",
     "is a directory"),
    ("NotifyCmd-not-executable", "ACMENotifyCmd", 'ACMENotifyCmd "{NOEXEC}"', "global",
     "not executable"),
    ("NotifyCmd-user-cannot-run", "ACMENotifyCmd", 'ACMENotifyCmd "{ROOTPROG}"', "global",
     r"User \(www-data\) cannot run"),
    ("NotifyCmd-in-vhost", "ACMENotifyCmd", 'ACMENotifyCmd "{PROG}"', "vhost",
     "server config"),
]


def _httpd(httpd_factory, glob, vhost_lines=(), global_lines=()):
    return httpd_factory([VHost(NAME, lines=list(vhost_lines)), VHost(NAME, ssl=False)], glob,
                         start=False, global_lines=list(global_lines))


def test_good_config_passes(httpd_factory, files):
    """The good values (every directive once), so that each bad case fails for its line."""
    glob = base_lines(files) + [
        "ACMEStore acme-store", "ACMEAutoRestart on", "ACMEKeyType p384",
        "ACMERenewWindow 33%", "ACMEWarnWindow 7d", "ACMERenewalInfo on",
        "ACMEStatelessHTTP01 on",
        "ACMERetryDelay 1d", "ACMEChallenges http-01 tls-alpn-01",
        'ACMEDNSHook "%s" --zone x' % files["PROG"], "ACMEDNSPropagationTimeout 1h",
        "ACMEDNSResolver 127.0.0.1:53", "ACMEPortMap 80:8080 443:8443",
        'ACMENotifyCmd "%s" root' % files["PROG"], "ACMEProfile classic",
        "ACMEMaxParallel 64", "ACMEOrderRate 300/3h", "ACMERequestRates letsencrypt"]
    vh = ["ACMEKeyType rsa2048", "ACMEProfile shortlived mandatory", "ACMERenewWindow 3650d", "ACMEWarnWindow 99%",
          "ACMEChallenges dns-01", 'ACMEDNSHook "%s"' % files["PROG"],
          "ACMEDNSPropagationTimeout 0", "ACMEDNSResolver 192.0.2.53"]
    rc, out = _httpd(httpd_factory, glob, vh).configtest()
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("directive,bad,where,says", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_value_fails_configtest(httpd_factory, files, directive, bad, where, says):
    bad = bad.format(**files)
    glob, vh, extra = base_lines(files), [], []
    if where == "global":
        replaced = [bad if re.match(r"%s\s" % directive, line) else line for line in glob]
        glob = replaced if bad in replaced else glob + [bad]
    elif where == "vhost":
        vh = [bad]
    else:
        extra = ['<Directory "/nonexistent-%s">' % NAME, "    " + bad, "</Directory>"]
    httpd = _httpd(httpd_factory, glob, vh, extra)
    lineno = httpd.line_of(bad)
    rc, out = httpd.configtest()
    print(out)
    assert rc > 0, "apache2 -t %s for %r:\n%s" % (
        "accepted it" if rc == 0 else "died of signal %d" % -rc, bad, out)
    assert rc < 128, "apache2 -t crashed (%d) for %r:\n%s" % (rc, bad, out)
    assert "Syntax OK" not in out, out
    marker = "line %d of %s" % (lineno, httpd.conf)
    assert marker in out, "the output does not name %r:\n%s" % (marker, out)
    message = out[out.rfind("\n", 0, out.index(marker)) + 1:]  # from the marker's line on
    assert re.search(r"(?<![\w-])%s(?![\w-])" % directive, message), \
        "the message does not name %s:\n%s" % (directive, out)
    assert re.search(says, message, re.I), "the message does not say %r:\n%s" % (says, out)
    assert "Invalid command" not in message, out


def test_ca_file_broken_later(httpd_factory, pebble, workdir, timing):
    """Real pebble. The CA file becomes garbage while the server runs: configtest fails
    naming it; a graceful restart (as the module's own restarts are) keeps the server
    running and logs the problem (ACME00124); the next attempt to reach the CA fails saying
    which file cannot be loaded (ACME00123), not with a generic transport error."""
    ca = os.path.join(workdir, "ca-copy.pem")
    shutil.copyfile(pebble.ca_file, ca)
    os.chmod(ca, 0o644)
    v = VHost("rt1.mod-acme.test")
    httpd = httpd_factory([v, VHost(v.name, ssl=False)], harness.acme_lines(pebble, ca))
    first, waited = httpd.wait_for_cert(v.name, pebble, timeout=60, names=[v.name])
    timing("CA file broken later: first certificate", waited)
    with open(ca, "w") as f:
        f.write("this is no longer a certificate\n")
    line = 'ACMEServerCAFile "%s"' % ca
    rc, out = httpd.configtest()
    assert rc > 0 and rc < 128, out
    assert "line %d of %s" % (httpd.line_of(line), httpd.conf) in out, out
    assert "ACMEServerCAFile" in out and "no PEM certificate" in out, out

    mark = httpd.log_mark()
    httpd.vhosts += [VHost("rt2.mod-acme.test"), VHost("rt2.mod-acme.test", ssl=False)]
    httpd.write_config()
    httpd.graceful()
    logged = httpd.log_entries(r"ACME00124: ACMEServerCAFile", since=mark)
    assert logged and ca in logged[0][1] and "line %d of %s" % (
        httpd.line_of(line), httpd.conf) in logged[0][1], httpd.diagnostics()
    failed = httpd.wait_for(lambda: httpd.log_entries(r"ACME00123: .*%s" % re.escape(ca),
                                                      since=mark), 60,
                            what="the attempt for rt2 failing on the CA file")
    print("\n".join(l for _, l in httpd.log_entries(r"ACME00(12[34]|0[0-9][0-9])", since=mark)))
    assert "ACMEServerCAFile" in failed[0][1], failed
    assert httpd.running()
    assert httpd.cert(v.name).serial == first.serial   # still serving
