"""Issue 8, test 4: crash safety, and a damaged store never stops the server.

Crash runs: httpd is killed with SIGKILL (its whole process group, as a power cut would) at a
seeded random moment while it obtains certificates for 20 vhosts from the real pebble, then
started again; every run must end with all 20 served, one account, no half-written or
unparsable file in the store and at most one extra order per certificate (counted over all
20: pebble 2.4's log does not name the certificate an order is for).
ACME_CRASH_RUNS sets the number of runs (default 10, 50 with ACME_LONG=1), ACME_CRASH_SEED
the first seed.

Damaged stores: a store in which the three certificates were obtained is copied into a new
ServerRoot, one file is damaged as an admin might find it, and httpd is started: it must
start, say which file is wrong, keep serving the other certificates and repair itself.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

import harness
from harness import VHost

CRASH_VHOSTS = [VHost("c%02d.crash.mod-acme.test" % i) for i in range(20)]
DAMAGE_VHOSTS = [VHost("d%d.damage.mod-acme.test" % i, aliases=["www.d%d.damage.mod-acme.test" % i])
                 for i in range(3)]


# ---------------------------------------------------------------------------------- helpers

def served_by_pebble(httpd, name, root):
    """The served certificate when it verifies against pebble's root, else None."""
    try:
        if harness.verify_served(httpd.https_port, name, root) is not None:
            return None
        return httpd.cert(name)
    except OSError:
        return None


def wait_all_served(httpd, vhosts, root, timeout):
    """Wait until every vhost serves a certificate that verifies against pebble's root.
    Returns {name: CertInfo}."""
    got = {}

    def done():
        for v in vhosts:
            if v.name not in got:
                c = served_by_pebble(httpd, v.name, root)
                if c is not None:
                    got[v.name] = c
        return len(got) == len(vhosts)
    httpd.wait_for(done, timeout, interval=0.5,
                   what="all %d vhosts served by pebble certificates (have %s)" % (
                       len(vhosts), "%d" % len(got)))
    return got


def openssl_ok(args):
    res = subprocess.run([harness.OPENSSL] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, timeout=30)
    return res.returncode == 0


def walk_store(store):
    """(problems, temp entries): every JSON parses, every PEM parses (certificates and
    keys), every sealed key has the sealed format, the secret has 32 bytes. Names starting
    with a dot are temporary; one inside a live set would matter."""
    problems, temps = [], []
    for dirpath, dirnames, filenames in os.walk(store):
        rel = os.path.relpath(dirpath, store)
        for d in dirnames:
            if d.startswith("."):
                temps.append(os.path.join(rel, d))
        for f in filenames:
            p = os.path.join(dirpath, f)
            if f.startswith("."):
                temps.append(os.path.join(rel, f))
                if rel.startswith("live" + os.sep):
                    problems.append("temporary file inside a live set: %s" % p)
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            if f.endswith(".json"):
                try:
                    json.loads(data.decode())
                except ValueError as exc:
                    problems.append("%s: not JSON (%s): %r" % (p, exc, data[:80]))
            elif f in ("chain.pem", "cert.pem"):
                if b"BEGIN CERTIFICATE" not in data \
                        or not openssl_ok(["crl2pkcs7", "-nocrl", "-certfile", p]):
                    problems.append("%s: certificates do not parse" % p)
            elif f == "key.pem":
                if not openssl_ok(["pkey", "-noout", "-in", p]):
                    problems.append("%s: private key does not parse" % p)
            elif f.endswith(".sealed"):
                if not data.startswith(b"ACMESEAL1") or len(data) < 9 + 12 + 16 + 100:
                    problems.append("%s: not a complete sealed key (%d bytes)" % (p, len(data)))
            elif f == "secret.key":
                if len(data) != 32:
                    problems.append("%s: %d bytes" % (p, len(data)))
    return problems, temps


def staged_count(httpd):
    """Certificates staged but not yet live (or live already: activation started)."""
    return sum(1 for v in CRASH_VHOSTS for g, f in (("staging", "meta.json"),
                                                    ("live", "chain.pem"))
               if os.path.isfile(os.path.join(httpd.store, g, v.name, f)))


def kill_group(httpd):
    """SIGKILL to every process of httpd's process group; wait until all are gone."""
    pgid = httpd.pid
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    httpd.proc.popen.wait(timeout=10)
    for _ in range(100):
        if not httpd.processes_left():
            return
        time.sleep(0.05)
    raise harness.HarnessError("processes of httpd group %d survived SIGKILL" % pgid)


# ------------------------------------------------------------------------------ crash runs

def test_crash_during_issuance(httpd_factory, pebble, acme_config, timing, report):
    """SIGKILL at a random moment while 20 certificates are obtained, then a restart."""
    runs = int(os.environ.get("ACME_CRASH_RUNS", "50" if os.environ.get("ACME_LONG") else "10"))
    seed0 = int(os.environ.get("ACME_CRASH_SEED", str(random.SystemRandom().randrange(1 << 30))))
    root = pebble.root_file()
    print("crash runs: %d, seeds %d..%d (ACME_CRASH_SEED=%d repeats them)" % (
        runs, seed0, seed0 + runs - 1, seed0))
    t_all = time.monotonic()
    failures = []
    run_lines = ["crash runs: %d, seeds %d..%d (ACME_CRASH_SEED=%d repeats them)" % (
        runs, seed0, seed0 + runs - 1, seed0)]
    for i in range(runs):
        seed = seed0 + i
        rnd = random.Random(seed)
        # even seeds: any moment from start to activation (orders from ~1 s, all staged at
        # ~4.5 s, activated at ~8 s); odd seeds: around the activation, counted from the
        # moment all 20 are staged (the restart follows 3 s later)
        after_staged = seed % 2 == 1
        kill_at = rnd.uniform(3.5, 5.0) if after_staged else rnd.uniform(0.5, 9.5)
        mark = pebble.mark()
        httpd = httpd_factory(CRASH_VHOSTS, acme_config, start=False)
        t0 = time.monotonic()
        httpd.start()
        if after_staged:
            try:
                httpd.wait_for(lambda: staged_count(httpd) >= len(CRASH_VHOSTS), 90,
                               interval=0.05, what="all 20 certificates staged")
            except Exception as exc:  # noqa: BLE001 - reported with the seed
                failures.append("seed %d (before the kill): %s" % (seed, exc))
                break
            t0 = time.monotonic()
        time.sleep(max(0.0, kill_at - (time.monotonic() - t0)))
        kill_group(httpd)
        orders_before = pebble.orders(since=mark)
        at_kill = {g: sum(1 for v in CRASH_VHOSTS if os.path.isfile(os.path.join(
            httpd.store, g, v.name, f))) for g, f in (("live", "chain.pem"),
                                                      ("staging", "meta.json"))}
        t1 = time.monotonic()
        httpd.start()
        try:
            wait_all_served(httpd, CRASH_VHOSTS, root, timeout=120)
        except Exception as exc:  # noqa: BLE001 - reported with the seed below
            failures.append("seed %d (kill at %.2f s): %s" % (seed, kill_at, exc))
            print(httpd.diagnostics())
            httpd.stop()
            break
        took = time.monotonic() - t1
        orders = pebble.orders(since=mark)
        accounts = sorted(os.listdir(os.path.join(httpd.store, "accounts")))
        problems, temps = walk_store(httpd.store)
        run_lines.append(
            "run %2d: seed %d, killed %.2f s after %s (orders %d, staged %d, live %d by "
            "then), orders %d in all, all 20 served %.1f s after the restart, temporary "
            "entries %d" % (i, seed, kill_at, "all were staged" if after_staged else "start",
                            orders_before, at_kill["staging"], at_kill["live"], orders, took,
                            len(temps)))
        print(run_lines[-1])
        if len(accounts) != 1 or not os.path.isfile(os.path.join(
                httpd.store, "accounts", accounts[0], "key.sealed")):
            problems.append("accounts: %r (expected exactly one, with key.sealed)" % accounts)
        if orders > 2 * len(CRASH_VHOSTS):
            problems.append("%d orders for %d certificates and one crash" % (
                orders, len(CRASH_VHOSTS)))
        httpd.stop()
        shutil.rmtree(httpd.root, ignore_errors=True)
        if problems:
            failures.append("seed %d (kill at %.2f s):\n  %s" % (seed, kill_at,
                                                                "\n  ".join(problems)))
            break
    report("crash runs", run_lines + ["failures: %d" % len(failures)])
    timing("%d crash runs of 20 certificates" % runs, time.monotonic() - t_all)
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- damaged stores

@pytest.fixture(scope="module")
def good_store(tools, ports, pebble, workdir):
    """A store in which DAMAGE_VHOSTS got their certificates (httpd stopped again)."""
    root = harness.make_tempdir("mod_acme-httpd-")
    h = harness.Httpd(root, ports[0], ports[1], vhosts=DAMAGE_VHOSTS,
                      acme_lines=harness.acme_lines(pebble, pebble.ca_file))
    try:
        h.start()
        certs = wait_all_served(h, DAMAGE_VHOSTS, pebble.root_file(), timeout=90)
        h.stop()
        dest = os.path.join(workdir, "good-store")
        shutil.copytree(h.store, dest, symlinks=True)
    except Exception:
        print(h.diagnostics())
        raise
    finally:
        h.stop()
        shutil.rmtree(root, ignore_errors=True)
    return dest, {n: c.serial for n, c in certs.items()}


def damaged_httpd(httpd_factory, good_store, acme_config, damage):
    """A stopped httpd whose store is a copy of the good one after damage(store)."""
    httpd = httpd_factory(DAMAGE_VHOSTS, acme_config, start=False)
    shutil.copytree(good_store[0], httpd.store, symlinks=True)
    damage(httpd.store)
    return httpd


def live(store, v, f=None):
    p = os.path.join(store, "live", DAMAGE_VHOSTS[v].name)
    return os.path.join(p, f) if f else p


def truncate(path, keep):
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[:keep if keep >= 0 else len(data) + keep])


def assert_others_unchanged(httpd, good_store, damaged):
    for i, v in enumerate(DAMAGE_VHOSTS):
        if i == damaged:
            continue
        c = httpd.cert(v.name)
        assert c.serial == good_store[1][v.name], "%s: %r, expected the stored serial %s" % (
            v.name, c, good_store[1][v.name])


def log_has(httpd, *parts, timeout=15):
    """A line of the error log has all parts, within timeout: httpd accepts connections after
    its first configuration pass, the second one (which logs these warnings) may still run."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.2) + 1):
        if any(all(p in line for p in parts) for line in httpd.error_log().splitlines()):
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return False


def test_truncated_meta_is_rebuilt(httpd_factory, good_store, acme_config, pebble):
    """A truncated live meta.json: rebuilt from the certificate with a warning, no order."""
    httpd = damaged_httpd(httpd_factory, good_store, acme_config,
                          lambda s: truncate(live(s, 0, "meta.json"), 25))
    mark = pebble.mark()
    httpd.start()
    assert log_has(httpd, "ACME00141", live(httpd.store, 0, "meta.json"), "not valid JSON",
                   "rebuilt"), httpd.diagnostics()
    with open(live(httpd.store, 0, "meta.json")) as fh:
        meta = json.load(fh)
    assert sorted(meta["names"]) == sorted(DAMAGE_VHOSTS[0].names), meta
    assert harness.norm_serial(meta["serial"]) == harness.norm_serial(
        good_store[1][DAMAGE_VHOSTS[0].name]), meta
    assert meta["key"] == "p256", meta
    time.sleep(6)  # the driver would order now if the rebuilt state looked wrong
    assert httpd.cert(DAMAGE_VHOSTS[0].name).serial == good_store[1][DAMAGE_VHOSTS[0].name]
    assert_others_unchanged(httpd, good_store, None)
    assert pebble.orders(since=mark) == 0, "ordered although meta.json could be rebuilt"


def test_empty_live_key_serves_fallback_then_new(httpd_factory, good_store, acme_config,
                                                  pebble):
    """A zero-byte live key.pem: httpd starts, warns naming it, serves the fallback for that
    vhost only, orders anew; the damaged set goes to the archive, not away."""
    httpd = damaged_httpd(httpd_factory, good_store, acme_config,
                          lambda s: truncate(live(s, 1, "key.pem"), 0))
    httpd.start()
    # the ports accept during the first (dry-run) config pass; the warning comes from the
    # second: count once the start is complete
    httpd.wait_for(lambda: httpd.generations() >= 1, 30, what="the end of the start")
    name = DAMAGE_VHOSTS[1].name
    assert log_has(httpd, "ACME00140", live(httpd.store, 1), "key.pem is empty"), \
        httpd.diagnostics()
    assert log_has(httpd, "ACME00144", name), httpd.diagnostics()
    warned = [line for line in httpd.error_log().splitlines()
              if "ACME00140" in line and "[acme:warn]" in line]
    assert len(warned) == 1, "warned %d times at one start:\n%s" % (len(warned),
                                                                    "\n".join(warned))
    assert_others_unchanged(httpd, good_store, 1)
    c, _ = httpd.wait_for_cert(name, pebble, timeout=60, not_serial=good_store[1][name],
                               names=DAMAGE_VHOSTS[1].names)
    assert_others_unchanged(httpd, good_store, 1)
    kept = [d for d, _, files in os.walk(os.path.join(httpd.store, "archive", name))
            if "key.pem" in files and os.path.getsize(os.path.join(d, "key.pem")) == 0]
    assert kept, "the damaged set is not in the archive"


def test_truncated_chain_serves_archived_set(httpd_factory, good_store, acme_config, pebble):
    """A truncated live chain.pem with a good archived set: the archived set serves at once
    (with a warning naming both), and a new certificate is ordered."""
    name = DAMAGE_VHOSTS[2].name

    def damage(store):
        arch = os.path.join(store, "archive", name, "20260101T000000Z")
        shutil.copytree(live(store, 2), arch)
        with open(os.path.join(store, "archive", name, "20260102T000000Z"), "w") as fh:
            fh.write("a stray file in the archive\n")
        truncate(live(store, 2, "chain.pem"), -300)
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    mark = pebble.mark()
    httpd.start()
    assert log_has(httpd, "ACME00140", "chain.pem does not parse"), httpd.diagnostics()
    assert log_has(httpd, "ACME00147", "20260101T000000Z"), httpd.diagnostics()
    c = httpd.cert(name)
    assert c.serial == good_store[1][name], "expected the archived certificate, got %r" % c
    httpd.wait_for_cert(name, pebble, timeout=60, not_serial=good_store[1][name])
    assert pebble.orders(since=mark) >= 1
    assert_others_unchanged(httpd, good_store, 2)


def test_live_chain_that_does_not_link(httpd_factory, good_store, acme_config, pebble):
    """A live chain.pem whose certificates do not link (the leaf, then another vhost's leaf
    where its issuer belongs): start-up runs the same chain check as activation, so the set
    is damaged: httpd starts, warns naming the file and the broken link, serves the
    fallback for that vhost only and orders anew."""
    name = DAMAGE_VHOSTS[0].name

    def damage(store):
        blocks = []
        for v in (0, 1):
            with open(live(store, v, "chain.pem")) as fh:
                blocks.append(fh.read().split("-----END CERTIFICATE-----")[0]
                              + "-----END CERTIFICATE-----\n")
        with open(live(store, 0, "chain.pem"), "w") as fh:
            fh.write(blocks[0] + blocks[1])
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    httpd.start()
    assert log_has(httpd, "ACME00140", live(httpd.store, 0), "chain.pem is not a usable "
                   "chain: certificate 1 of the chain", "is not signed by certificate 2"), \
        httpd.diagnostics()
    assert log_has(httpd, "ACME00144", name), httpd.diagnostics()
    assert_others_unchanged(httpd, good_store, 0)
    httpd.wait_for_cert(name, pebble, timeout=60, not_serial=good_store[1][name],
                        names=DAMAGE_VHOSTS[0].names)
    assert_others_unchanged(httpd, good_store, 0)


def test_stray_and_misplaced_files(httpd_factory, good_store, acme_config, pebble):
    """Stray files, a directory where a lock file belongs, a file where a group directory
    belongs, an empty fallback certificate: handled with warnings, every certificate still
    serves, nothing of value is deleted."""
    def damage(store):
        with open(os.path.join(store, "live", "README"), "w") as fh:
            fh.write("stray\n")
        with open(live(store, 0, "notes.txt"), "w") as fh:
            fh.write("stray\n")
        lock = os.path.join(store, "locks", "driver.lock")
        if os.path.exists(lock):
            os.remove(lock)
        os.makedirs(lock)
        shutil.rmtree(os.path.join(store, "challenges"))
        with open(os.path.join(store, "challenges"), "w") as fh:
            fh.write("not a directory\n")
        truncate(os.path.join(store, "system", "fallback", "cert.pem"), 0)
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    mark = pebble.mark()
    httpd.start()
    assert log_has(httpd, "ACME00149", "challenges"), httpd.diagnostics()
    assert log_has(httpd, "ACME00150", "driver.lock"), httpd.diagnostics()
    assert log_has(httpd, "ACME00142", "fallback/cert.pem is empty"), httpd.diagnostics()
    assert_others_unchanged(httpd, good_store, None)
    assert os.path.isfile(os.path.join(httpd.store, "live", "README"))
    assert any(f.startswith("challenges.damaged-") for f in os.listdir(httpd.store))
    time.sleep(4)
    assert httpd.running()
    assert pebble.orders(since=mark) == 0


def test_wrong_secret_still_serves(httpd_factory, good_store, acme_config):
    """A secret of the wrong size: httpd starts and serves the live certificates; the log
    says which file, what is wrong and what to do."""
    def damage(store):
        with open(os.path.join(store, "system", "secret", "secret.key"), "wb") as fh:
            fh.write(b"x" * 31)
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    httpd.start()
    assert log_has(httpd, "ACME00143", "secret.key has 31 bytes instead of 32",
                   "Restore it from a backup, or move it away"), httpd.diagnostics()
    assert_others_unchanged(httpd, good_store, None)
    assert httpd.running()


def test_empty_account_key_makes_new_account(httpd_factory, good_store, acme_config, pebble):
    """An empty sealed account key: a new account (with a warning), not endless failures."""
    name = DAMAGE_VHOSTS[0].name

    def damage(store):
        acc = os.listdir(os.path.join(store, "accounts"))
        assert len(acc) == 1, acc
        truncate(os.path.join(store, "accounts", acc[0], "key.sealed"), 0)
        shutil.rmtree(live(store, 0))    # so that a certificate is ordered at once
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    httpd.start()
    httpd.wait_for_cert(name, pebble, timeout=60, names=DAMAGE_VHOSTS[0].names)
    assert log_has(httpd, "ACME00151", "key.sealed is empty", "creating a new account"), \
        httpd.diagnostics()
    acc = os.listdir(os.path.join(httpd.store, "accounts"))
    assert len(acc) == 1, acc
    files = os.listdir(os.path.join(httpd.store, "accounts", acc[0]))
    assert any(f.startswith("key.sealed.damaged-") for f in files), files
    assert_others_unchanged(httpd, good_store, 0)


def test_directory_instead_of_key(httpd_factory, good_store, acme_config):
    """A directory where live key.pem belongs: httpd starts, says so, serves the fallback for
    that vhost and plans a new certificate; the other vhosts keep theirs."""
    name = DAMAGE_VHOSTS[2].name

    def damage(store):
        os.remove(live(store, 2, "key.pem"))
        os.makedirs(live(store, 2, "key.pem"))
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    httpd.start()
    assert log_has(httpd, "ACME00140", "key.pem cannot be read"), httpd.diagnostics()
    assert log_has(httpd, "ACME00011", name, "live files damaged"), httpd.diagnostics()
    assert httpd.cert(name).is_fallback
    assert_others_unchanged(httpd, good_store, 2)


def test_damaged_staged_set(httpd_factory, good_store, acme_config):
    """A staged set with an empty key.sealed: not activated (the log says which file), moved
    to the archive; the live certificate keeps serving."""
    name = DAMAGE_VHOSTS[1].name

    def damage(store):
        staged = os.path.join(store, "staging", name)
        os.makedirs(staged)
        for f in ("chain.pem", "meta.json"):
            shutil.copy(live(store, 1, f), os.path.join(staged, f))
        open(os.path.join(staged, "key.sealed"), "wb").close()
    httpd = damaged_httpd(httpd_factory, good_store, acme_config, damage)
    httpd.start()
    assert log_has(httpd, "ACME00007", name, "key.sealed is empty"), httpd.diagnostics()
    assert_others_unchanged(httpd, good_store, None)
    assert not os.path.exists(os.path.join(httpd.store, "staging", name))
    assert any("key.sealed" in files for _, _, files in
               os.walk(os.path.join(httpd.store, "archive", name)))
