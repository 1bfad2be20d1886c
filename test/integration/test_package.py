"""Issue 5, test 4 and issue 8, test 10: the Debian package.

test_debian_package: the package builds (dpkg-buildpackage -us -uc -b, from a copy of the
source tree so that nothing lands in the repository), installs into this machine's Apache,
`a2enmod acme` enables it, `apache2ctl configtest` passes; then it is purged.

test_package_end_to_end: the installed package for real, in Debian's own /etc/apache2
layout: `a2enmod ssl acme`, a site with `ACME on` on 127.0.0.1 high ports only (ports.conf
is rewritten: never 80/443/0.0.0.0), ACMEServer pointing at the test's pebble, `apache2ctl
start` with the APACHE_* environment of /etc/apache2/envvars; pebble's certificate is
served; `acmectl list` works with its default store (/var/lib/apache2/acme); `apache2ctl
stop` (then the PID of the PID file, bounded); `dpkg --purge` removes what the package
installed and keeps the store (data, as Debian keeps data).

This changes the system's apache2 configuration while it runs (CI runs as root on a
throwaway machine). A policy-rc.d keeps package scripts from starting or reloading apache2;
/etc/apache2 and apache2's state under /var/lib/apache2 are copied first and restored, the
package purged, a store the test created removed, whatever the outcome."""

import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import harness

PKG = "libapache2-mod-acme"
POLICY = "/usr/sbin/policy-rc.d"
MODS_ENABLED = "/etc/apache2/mods-enabled"


def sh(argv, timeout=120, check=True, **kw):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    print("$ %s -> %d\n%s%s" % (" ".join(argv), res.returncode, res.stdout[-3000:],
                                res.stderr[-3000:]))
    if check and res.returncode != 0:
        pytest.fail("%s failed (%d):\n%s\n%s" % (" ".join(argv), res.returncode,
                                                  res.stdout[-3000:], res.stderr[-3000:]),
                    pytrace=False)
    return res


def installed(pkg):
    res = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                         capture_output=True, text=True)
    return res.returncode == 0 and res.stdout.strip() not in ("", "not-installed")


def copy_source(dest):
    """The files git would commit (tracked and new, not ignored), as they are now."""
    out = subprocess.run(["git", "-C", harness.REPO, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in sorted(set(p for p in out.decode().split("\0") if p)):
        src = os.path.join(harness.REPO, rel)
        if not os.path.isfile(src):
            continue   # deleted in the working tree
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def need_root_and_tools():
    if os.geteuid() != 0:
        pytest.fail("the package test must run as root (it installs the package)", pytrace=False)
    for tool in ("dpkg-buildpackage", "dpkg-checkbuilddeps", "a2enmod", "apache2ctl"):
        if not shutil.which(tool):
            pytest.fail("%s missing (scripts/deps.sh installs dpkg-dev, debhelper, apache2)"
                        % tool, pytrace=False)


@pytest.fixture(scope="module")
def deb():
    """The .deb, built once per module from a copy of the tree: (path, seconds taken)."""
    need_root_and_tools()
    build_dir = tempfile.mkdtemp(prefix="mod_acme-deb-")
    try:
        t0 = time.monotonic()
        src = os.path.join(build_dir, "mod-acme-0.1.0")
        copy_source(src)
        sh(["dpkg-checkbuilddeps"], cwd=src)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % min(
            2, os.cpu_count() or 2), LC_ALL="C")
        sh(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=600)
        debs = glob.glob(os.path.join(build_dir, PKG + "_*.deb"))
        assert len(debs) == 1, os.listdir(build_dir)
        yield debs[0], time.monotonic() - t0
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


def test_debian_package(deb, timing):
    t0 = time.monotonic()
    debs = [deb[0]]
    timing("package: dpkg-buildpackage", deb[1])

    contents = sh(["dpkg-deb", "-c", debs[0]]).stdout
    for path in ("./usr/lib/apache2/modules/mod_acme.so",
                 "./etc/apache2/mods-available/acme.load",
                 "./etc/apache2/mods-available/acme.conf",
                 "./usr/sbin/acmectl",
                 "./usr/share/man/man8/acmectl.8.gz",
                 "./usr/share/doc/%s/status.md" % PKG,
                 "./usr/share/doc/%s/quickstart.md" % PKG):
        assert path in contents, "%s not in the package:\n%s" % (path, contents)
    assert ".la" not in "".join(line for line in contents.splitlines() if "modules/" in line)
    info = sh(["dpkg-deb", "-f", debs[0], "Depends"]).stdout
    assert "apache2-api-" in info, info

    added_policy = False
    enabled_before = set(os.listdir(MODS_ENABLED))
    try:
        if not os.path.exists(POLICY):
            with open(POLICY, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(POLICY, 0o755)
            added_policy = True
        if installed(PKG):
            sh(["dpkg", "--purge", PKG])
        sh(["dpkg", "-i", debs[0]], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        assert os.path.isfile("/usr/lib/apache2/modules/mod_acme.so")
        assert not os.path.exists(os.path.join(MODS_ENABLED, "acme.load")), \
            "the package must not enable the module by itself"

        sh(["a2enmod", "acme"])
        assert os.path.islink(os.path.join(MODS_ENABLED, "acme.load"))
        assert os.path.islink(os.path.join(MODS_ENABLED, "acme.conf"))
        assert os.path.islink(os.path.join(MODS_ENABLED, "ssl.load"))
        res = sh(["apache2ctl", "configtest"])
        assert "Syntax OK" in res.stdout + res.stderr
        res = sh(["apache2ctl", "-M"])
        assert "acme_module" in res.stdout, res.stdout
        res = sh(["/usr/sbin/acmectl", "--version"])
        assert "0.1.0" in res.stdout
        res = sh(["/usr/sbin/acmectl", "list"], check=False)
        assert res.returncode in (0, 1) and (res.returncode == 0
                                             or "/var/lib/apache2/acme" in res.stderr)
        timing("package: built, installed, enabled, configtest", time.monotonic() - t0)
    finally:
        for name in sorted(set(os.listdir(MODS_ENABLED)) - enabled_before):
            if name.endswith(".load"):
                subprocess.run(["a2dismod", "-q", "-f", name[:-5]], capture_output=True)
        if installed(PKG):
            subprocess.run(["dpkg", "--purge", PKG], capture_output=True, timeout=120)
        if added_policy:
            os.remove(POLICY)
    assert not installed(PKG)
    assert not os.path.exists("/usr/lib/apache2/modules/mod_acme.so")
    assert not os.path.exists("/etc/apache2/mods-available/acme.load")
    assert set(os.listdir(MODS_ENABLED)) == enabled_before
    res = sh(["apache2ctl", "configtest"])
    timing("package: whole test", time.monotonic() - t0)


# ---------------------------------------------------------------------------------------------
# issue 8, test 10: the installed package end to end, in Debian's /etc/apache2 layout

ETC = "/etc/apache2"
STATE = "/var/lib/apache2"
STATE_DIRS = ("conf", "module", "site")      # a2enmod/a2ensite's records
STORE = "/var/lib/apache2/acme"             # debian/acme.conf's ACMEStore, acmectl's default
LOGDIR = "/var/log/apache2"
SITE = "mod-acme-e2e"
E2E_NAME = "pkg.mod-acme.test"


class SystemApache:
    """Copies of /etc/apache2 and a2enmod's state, a store already there moved aside; restore()
    puts everything back as it was."""

    def __init__(self, backup_dir):
        self.dir = backup_dir
        shutil.copytree(ETC, os.path.join(backup_dir, "etc"), symlinks=True)
        for d in STATE_DIRS:
            if os.path.isdir(os.path.join(STATE, d)):
                shutil.copytree(os.path.join(STATE, d), os.path.join(backup_dir, "state", d),
                                symlinks=True)
        self.store_saved = None
        if os.path.lexists(STORE):
            self.store_saved = os.path.join(backup_dir, "store")
            shutil.move(STORE, self.store_saved)
        self.logs_before = set(os.listdir(LOGDIR)) if os.path.isdir(LOGDIR) else set()
        self.policy_added = False
        if not os.path.exists(POLICY):
            with open(POLICY, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(POLICY, 0o755)
            self.policy_added = True

    def restore(self):
        shutil.rmtree(ETC, ignore_errors=True)
        shutil.copytree(os.path.join(self.dir, "etc"), ETC, symlinks=True)
        for d in STATE_DIRS:
            saved = os.path.join(self.dir, "state", d)
            if os.path.isdir(saved):
                shutil.rmtree(os.path.join(STATE, d), ignore_errors=True)
                shutil.copytree(saved, os.path.join(STATE, d), symlinks=True)
        shutil.rmtree(STORE, ignore_errors=True)
        if self.store_saved:
            shutil.move(self.store_saved, STORE)
        if os.path.isdir(LOGDIR):
            for f in set(os.listdir(LOGDIR)) - self.logs_before:
                os.remove(os.path.join(LOGDIR, f))
        if self.policy_added:
            os.remove(POLICY)


def envvars():
    """The APACHE_* variables /etc/apache2/envvars sets (as apache2ctl sources them)."""
    out = subprocess.run(["/bin/sh", "-c", ". %s/envvars && env -0" % ETC], capture_output=True,
                         check=True, timeout=10).stdout.decode()
    return dict(kv.split("=", 1) for kv in out.split("\0") if kv.startswith("APACHE_"))


def apache2ctl(*args, check=True):
    # APACHE_STARTED_BY_SYSTEMD: apache2ctl starts apache2 itself, never through systemctl
    # (the test must own the process it stops)
    return sh(["apache2ctl"] + list(args), check=check,
              env=dict(os.environ, APACHE_STARTED_BY_SYSTEMD="1", LANG="C"))


def read_pid(pid_file):
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def is_system_apache(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return argv[0].endswith(b"apache2") and b"-DFOREGROUND" not in argv


def stop_by_pid_file(pid_file, timeout=30):
    """apache2ctl stop, then wait for the PID of the PID file; SIGTERM/SIGKILL it when it
    outlives the wait. Bounded: about timeout + 10 s."""
    pid = read_pid(pid_file)
    if pid is None or not is_system_apache(pid):
        return None
    apache2ctl("stop", check=False)
    deadline = time.monotonic() + timeout
    for sig in (None, 15, 9):
        if sig is not None and is_system_apache(pid):
            harness.log("apache2 (pid %d) still running: signal %d" % (pid, sig))
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
        while time.monotonic() < deadline and is_system_apache(pid):
            time.sleep(0.2)
        if not is_system_apache(pid):
            return pid
    raise AssertionError("apache2 (pid %d) did not stop" % pid)


def site_config(pebble, http_port, https_port):
    return "\n".join([
        "# mod_acme's test_package.py (removed again by the test)",
        "ServerName 127.0.0.1",
        "ACMEServer %s" % pebble.directory_url,
        'ACMEServerCAFile "%s"' % pebble.ca_file,
        "ACMEContact %s" % harness.CONTACT,
        "ACMEAgreeTerms on",
        "",
        "<VirtualHost 127.0.0.1:%d>" % https_port,
        "    ServerName %s" % E2E_NAME,
        "    SSLEngine on",
        "    ACME on",
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % http_port,
        "    ServerName %s" % E2E_NAME,
        "</VirtualHost>",
        ""])


def test_package_end_to_end(deb, pebble, ports, timing, tmp_path):
    http_port, https_port = ports
    assert min(ports) > 1024
    t0 = time.monotonic()
    pid_file = envvars().get("APACHE_PID_FILE", "/var/run/apache2/apache2.pid")
    running = read_pid(pid_file)
    if running is not None and is_system_apache(running):
        pytest.fail("the system's apache2 already runs (pid %d): not touching it" % running,
                    pytrace=False)
    backup = tempfile.mkdtemp(prefix="mod_acme-pkg-backup-")
    state = SystemApache(backup)
    started = False
    try:
        if installed(PKG):
            sh(["dpkg", "--purge", PKG])
        sh(["dpkg", "-i", deb[0]], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        sh(["a2enmod", "ssl", "acme"])
        for site in os.listdir(os.path.join(ETC, "sites-enabled")):
            sh(["a2dissite", "-q", site[:-5] if site.endswith(".conf") else site])
        with open(os.path.join(ETC, "ports.conf"), "w") as f:
            f.write("# mod_acme's test_package.py: loopback high ports only (restored by the "
                    "test)\nListen 127.0.0.1:%d\nListen 127.0.0.1:%d https\n"
                    % (http_port, https_port))
        with open(os.path.join(ETC, "sites-available", SITE + ".conf"), "w") as f:
            f.write(site_config(pebble, http_port, https_port))
        sh(["a2ensite", "-q", SITE])
        res = apache2ctl("configtest")
        assert "Syntax OK" in res.stdout + res.stderr
        listens = sh(["apache2ctl", "-S"], check=False).stdout
        assert ":80 " not in listens and ":443 " not in listens, listens

        t1 = time.monotonic()
        apache2ctl("start")
        started = True
        pid = harness.wait_for(lambda: read_pid(pid_file), 30, what="the PID file %s" % pid_file)
        assert is_system_apache(pid), pid
        roots = pebble.roots()

        def issued():
            c = harness.fetch_cert(https_port, E2E_NAME)
            if c.is_fallback or c.self_signed:
                return None
            ok, out = harness.verify(c, roots)
            if not ok:
                raise harness.WaitAbort("served certificate does not verify against pebble: "
                                        + out)
            return c
        try:
            cert = harness.wait_for(issued, 120, interval=0.5,
                                    what="a pebble certificate on 127.0.0.1:%d" % https_port)
        except (TimeoutError, harness.WaitAbort):
            print(harness.tail(os.path.join(LOGDIR, "error.log"), 60))
            raise
        assert cert.sans == [E2E_NAME], cert
        timing("package: apache2ctl start -> pebble certificate served", time.monotonic() - t1)
        r = harness.http_request(https_port, "/", E2E_NAME, tls=True)
        assert r.status in (200, 403, 404), r      # served by the site, not the fallback 503

        # acmectl with its default store, the one the package's acme.conf sets
        res = sh(["/usr/sbin/acmectl", "list"])
        assert "Certificate Name: %s" % E2E_NAME in res.stdout, res.stdout
        assert os.path.join(STORE, "live", E2E_NAME, "chain.pem") in res.stdout
        st = os.stat(os.path.join(STORE, "live", E2E_NAME, "key.pem"))
        assert st.st_uid == 0 and st.st_mode & 0o077 == 0, oct(st.st_mode)

        stopped = stop_by_pid_file(pid_file)
        started = False
        assert stopped == pid
        harness.wait_for(lambda: not harness.port_accepts(https_port), 10,
                         what="port %d closed" % https_port)

        sh(["dpkg", "--purge", PKG])
        assert not installed(PKG)
        for path in ("/usr/lib/apache2/modules/mod_acme.so", "/usr/sbin/acmectl",
                     os.path.join(ETC, "mods-available", "acme.load"),
                     os.path.join(ETC, "mods-available", "acme.conf"),
                     "/usr/share/doc/" + PKG):
            assert not os.path.exists(path), "%s left after purge" % path
        assert not os.path.lexists(os.path.join(MODS_ENABLED, "acme.load")), \
            "purge left the module enabled"
        assert os.path.isfile(os.path.join(STORE, "live", E2E_NAME, "chain.pem")), \
            "purge deleted the store"
        timing("package: end to end", time.monotonic() - t0)
    finally:
        if started:
            try:
                stop_by_pid_file(pid_file)
            except AssertionError as exc:
                print("WARNING: %s" % exc)
        if installed(PKG):
            subprocess.run(["dpkg", "--purge", PKG], capture_output=True, timeout=120)
        state.restore()
        shutil.rmtree(backup, ignore_errors=True)
    assert not installed(PKG)
    res = sh(["apache2ctl", "configtest"], check=False)
    assert "Syntax OK" in res.stdout + res.stderr, res
