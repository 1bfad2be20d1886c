"""Issue 5, test 4: the Debian package builds (dpkg-buildpackage -us -uc -b, from a copy of
the source tree so that nothing lands in the repository), installs into this machine's
Apache, `a2enmod acme` enables it, `apache2ctl configtest` passes; then it is purged.

This changes the system's apache2 configuration while it runs (CI runs as root on a
throwaway machine). A policy-rc.d keeps package scripts from starting or reloading apache2;
the modules a2enmod enabled are disabled again and the package is purged, whatever the
outcome."""

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


@pytest.fixture
def build_dir():
    d = tempfile.mkdtemp(prefix="mod_acme-deb-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_debian_package(build_dir, timing):
    if os.geteuid() != 0:
        pytest.fail("the package test must run as root (it installs the package)", pytrace=False)
    for tool in ("dpkg-buildpackage", "dpkg-checkbuilddeps", "a2enmod", "apache2ctl"):
        if not shutil.which(tool):
            pytest.fail("%s missing (scripts/deps.sh installs dpkg-dev, debhelper, apache2)"
                        % tool, pytrace=False)
    t0 = time.monotonic()
    src = os.path.join(build_dir, "mod-acme-0.1.0")
    copy_source(src)
    sh(["dpkg-checkbuilddeps"], cwd=src)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 2),
               LC_ALL="C")
    sh(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=600)
    debs = glob.glob(os.path.join(build_dir, PKG + "_*.deb"))
    assert len(debs) == 1, os.listdir(build_dir)
    timing("package: dpkg-buildpackage", time.monotonic() - t0)

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
