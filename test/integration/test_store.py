"""Spec 6: the store's layout, modes and owners after an issuance; private keys readable
by the httpd User are sealed, the live key is 0600 root."""

import json
import os
import stat

import harness
from harness import VHost, httpd_user_ids

ROOT_GROUPS = ("system", "live", "archive")
USER_GROUPS = ("accounts", "challenges", "orders", "staging", "locks")


def test_store_modes_owners_and_sealed_keys(httpd_factory, pebble, acme_config):
    v = VHost("store.mod-acme.test", aliases=["www.store.mod-acme.test"])
    httpd = httpd_factory([v], acme_config)
    cert, _ = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    uid, gid = httpd_user_ids()
    store = httpd.store
    problems = []

    st = os.lstat(store)
    if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o755 or st.st_uid != 0:
        problems.append("%s: mode %o uid %d, expected a directory 0755 root" % (
            store, stat.S_IMODE(st.st_mode), st.st_uid))

    for g in ROOT_GROUPS + USER_GROUPS:
        p = os.path.join(store, g)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            problems.append("group directory %s missing" % p)
            continue
        want_uid = 0 if g in ROOT_GROUPS else uid
        if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o700 \
                or st.st_uid != want_uid:
            problems.append("%s: mode %o uid %d, expected a directory 0700 uid %d" % (
                p, stat.S_IMODE(st.st_mode), st.st_uid, want_uid))
    extra = set(os.listdir(store)) - set(ROOT_GROUPS + USER_GROUPS)
    if extra:
        problems.append("unexpected entries in %s: %s" % (store, sorted(extra)))

    user_readable_keys = []
    sealed = []
    nfiles = 0
    for dirpath, dirnames, filenames in os.walk(store):
        rel = os.path.relpath(dirpath, store)
        group = rel.split(os.sep)[0]
        for d in dirnames:
            p = os.path.join(dirpath, d)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                problems.append("%s: symlink" % p)
            elif stat.S_IMODE(st.st_mode) & 0o022:
                problems.append("%s: directory mode %o, writable by group/other" % (
                    p, stat.S_IMODE(st.st_mode)))
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            nfiles += 1
            mode = stat.S_IMODE(st.st_mode)
            if not stat.S_ISREG(st.st_mode):
                problems.append("%s: not a regular file" % p)
                continue
            if mode != 0o600:
                problems.append("%s: mode %o, expected 0600" % (p, mode))
            if group in ROOT_GROUPS and st.st_uid != 0:
                problems.append("%s: owner uid %d in a root-only group" % (p, st.st_uid))
            with open(p, "rb") as fh:
                data = fh.read()
            readable_by_user = st.st_uid == uid or mode & 0o004 or \
                (mode & 0o040 and st.st_gid == gid)
            if readable_by_user and b"PRIVATE KEY" in data:
                user_readable_keys.append(p)
            if data.startswith(b"ACMESEAL1"):
                sealed.append(os.path.relpath(p, store))
    if user_readable_keys:
        problems.append("private keys readable by %d: %s" % (uid, user_readable_keys))
    if not any(s.startswith("accounts" + os.sep) for s in sealed):
        problems.append("no sealed (ACMESEAL1) account key under accounts/; sealed files: %r"
                        % sealed)

    for f in ("secret/secret.key", "fallback/cert.pem", "fallback/key.pem"):
        if not os.path.isfile(os.path.join(store, "system", f)):
            problems.append("system/%s missing" % f)

    live = os.path.join(store, "live", v.name)
    for f in ("chain.pem", "key.pem", "meta.json"):
        if not os.path.isfile(os.path.join(live, f)):
            problems.append("live/%s/%s missing" % (v.name, f))
    if not problems:
        st = os.lstat(os.path.join(live, "key.pem"))
        if st.st_uid != 0 or stat.S_IMODE(st.st_mode) != 0o600:
            problems.append("live key.pem: uid %d mode %o, expected 0600 root" % (
                st.st_uid, stat.S_IMODE(st.st_mode)))
        with open(os.path.join(live, "key.pem"), "rb") as fh:
            if b"PRIVATE KEY" not in fh.read():
                problems.append("live key.pem is not a PEM private key")
        with open(os.path.join(live, "chain.pem")) as fh:
            chain = fh.read()
        if chain.count("BEGIN CERTIFICATE") < 2:
            problems.append("live chain.pem holds %d certificates, expected leaf + intermediate"
                            % chain.count("BEGIN CERTIFICATE"))
        leaf = harness.CertInfo(harness.first_pem_cert(chain))
        if leaf.serial != cert.serial:
            problems.append("live chain.pem leaf %r is not the served %r" % (leaf, cert))
        with open(os.path.join(live, "meta.json")) as fh:
            try:
                json.load(fh)
            except ValueError as exc:
                problems.append("live meta.json is not JSON: %s" % exc)
    print("store %s: %d files, sealed: %s" % (store, nfiles, sealed))
    assert not problems, "\n".join(problems)
