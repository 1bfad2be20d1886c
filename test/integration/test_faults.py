"""Issue 8, test 3: the fault table.

Real pebble behind the TEST-ONLY proxy (acme_proxy.py), which injects the faults: per name, on
that name's newOrder, finalize or certificate download (see acme_proxy.FAULTS) a 5xx problem,
a 429 with Retry-After, non-JSON garbage, a connection reset, a hang longer than ACMETimeout,
a truncated answer, a 5 MB answer, and wrong certificates in place of the one pebble issued
(other names, expired, another key, unparsable, a leaf its chain's next certificate did not
sign, a leaf with no chain). Pebble 2.4 can be told to do none of this.

One httpd serves every case twice, as two vhosts: "<case>-first" meets the fault on its first
issuance (the fallback must stay), "<case>-renew" gets its certificate cleanly and meets the
fault on its renewal (90 s certificates, ACMERenewWindow 40s: the old certificate must stay).
For each: the server keeps running, nothing wrong is activated, the error log (ACME00031) and
the acme-status JSON name the problem, and once the fault is switched off the certificate is
obtained within a bound. A leaf whose answer links its issuer (Link rel="up") is completed and
obtained without a failure. The test prints the table: case, phase, outcome, seconds to recover.
"""

import os
import re
import time

import harness
import status_helpers
from harness import VHost

TIMEOUT_S = 3                  # ACMETimeout
RECOVER_BOUND = 75             # s from switching a fault off to the new certificate served
DEADLINE = 240                 # s for the whole table

# case (an acme_proxy fault kind) -> words the log line and the status must contain
# (None: no failure expected, the module copes: the certificate is obtained as it is)
CASES = [
    ("5xx", "serverInternal"),
    ("429", "rateLimited"),
    ("garbage", "answered newOrder with not JSON: Content-Type text/html"),
    ("reset", "connection reset"),
    ("hang", "timeout: no complete answer within %ds (ACMETimeout" % TIMEOUT_S),
    ("truncated", "truncated answer"),
    ("huge", "larger than the limit of 2097152 bytes"),
    ("other_names", "names differ: certificate has wrong-name.mod-acme.test"),
    ("expired", "certificate expired at"),
    ("wrong_key", "private key does not match the certificate"),
    ("unparsable", "chain does not parse"),
    ("wrong_signer", "is not signed by certificate 2 (CN = "),
    ("leaf_only", "the chain holds only the leaf"),
    ("leaf_only_up", None),
]


def _name(kind, phase):
    return "%s-%s.mod-acme.test" % (kind.replace("_", "-"), phase)


class Row:
    """One case in one phase, driven by step() until done."""

    def __init__(self, kind, words, phase):
        self.kind, self.words, self.phase = kind, words, phase
        self.name = _name(kind, phase)
        self.state = "armed" if phase == "first" else "issuing"
        self.outcome = None
        self.problems = []
        self.serial0 = None       # renew: the certificate that must stay
        self.mark = 0             # error log position when the fault was armed
        self.t_off = None
        self.recover_s = None
        self.seen = None          # the log line that named the problem

    @property
    def done(self):
        return self.state == "done"

    def fail(self, msg):
        self.problems.append(msg)


def _served(httpd, name):
    try:
        return httpd.cert(name)
    except (OSError, ValueError):
        return None               # e.g. during a graceful restart


def _status_error(httpd, name):
    try:
        code, doc = status_helpers.status_json(httpd)
    except (OSError, ValueError, AssertionError):
        return None
    for c in doc.get("certificates", []):
        if c.get("id") == name:
            e = c.get("last_error") or {}
            return "%s %s" % (e.get("type") or "", e.get("detail") or "")
    return None


def _failures(httpd, name, since):
    rx = r"ACME00031.*certificate for %s \(" % re.escape(name)
    return [line for _, line in httpd.log_entries(rx, since=since)]


def _is_pebble(c, roots):
    return c is not None and not c.is_fallback and not c.self_signed and \
        harness.verify(c, roots)[0]


def step(row, httpd, proxy, roots, root_file):
    """Advance row by what the server shows now."""
    now = time.monotonic()
    c = _served(httpd, row.name)
    if row.state == "issuing":                       # renew phase: wait for a clean certificate
        if _is_pebble(c, roots):
            row.serial0 = c.serial
            row.mark = httpd.log_mark()
            proxy.fault(row.name, row.kind)
            row.state = "armed"
        return
    if row.state == "armed":
        if row.words is None:                        # no failure expected: just obtained
            if _is_pebble(c, roots) and c.serial != row.serial0:
                err = harness.verify_served(httpd.https_port, row.name, root_file)
                if err:
                    row.fail("served chain does not verify with pebble's root alone: %s" % err)
                if _failures(httpd, row.name, row.mark):
                    row.fail("failed although the chain could be completed: %s"
                             % _failures(httpd, row.name, row.mark)[0])
                row.outcome, row.recover_s, row.state = "completed, obtained", 0.0, "done"
                proxy.clear_fault(row.name)
            return
        lines = _failures(httpd, row.name, row.mark)
        if not lines:
            return
        hit = [line for line in lines if row.words in line]
        if not hit:
            if len(lines) >= 3:
                row.fail("failures that do not name the problem (%r): %s" % (row.words, lines))
                proxy.clear_fault(row.name)
                row.state, row.t_off = "recovering", now
            return
        row.seen = hit[0]
        # nothing wrong activated: the fallback, or the old certificate, still serves
        if c is None:
            c = _served(httpd, row.name)
        if row.phase == "first" and (c is None or not c.is_fallback):
            row.fail("first issuance failed but the server does not serve the fallback: %r" % c)
        if row.phase == "renew" and (c is None or c.serial != row.serial0):
            row.fail("renewal failed but the old certificate %s is not served: %r"
                     % (row.serial0, c))
        st = _status_error(httpd, row.name)
        if st is None or row.words not in st:
            row.fail("acme-status last_error does not name the problem (%r): %r"
                     % (row.words, st))
        proxy.clear_fault(row.name)
        row.state, row.t_off = "recovering", now
        return
    if row.state == "recovering":
        if _is_pebble(c, roots) and c.serial != row.serial0:
            err = harness.verify_served(httpd.https_port, row.name, root_file)
            if err:
                row.fail("recovered chain does not verify with pebble's root alone: %s" % err)
            row.recover_s = now - row.t_off
            row.outcome = "refused, %s stayed" % ("fallback" if row.phase == "first"
                                                  else "old cert")
            row.state = "done"


def test_fault_table(pebble_factory, proxy_factory, httpd_factory, timing, report):
    """Every fault of the table, on first issuance and on renewal, in one httpd."""
    peb = pebble_factory(validity=90)
    proxy = proxy_factory(peb)
    proxy.ari = False                      # renewal from the window alone
    proxy.fault_hang = TIMEOUT_S + 4
    proxy.fault_retry_after = 4
    rows = []
    for kind, words in CASES:
        rows.append(Row(kind, words, "first"))
        rows.append(Row(kind, words, "renew"))
    for r in rows:
        if r.phase == "first":
            proxy.fault(r.name, r.kind)
    vhosts = [VHost(r.name, lines=["ACMERenewWindow 40s"] if r.phase == "renew" else [])
              for r in rows] + [status_helpers.status_vhost()]
    httpd = httpd_factory(vhosts, harness.acme_lines(
        proxy.directory_url, peb.ca_file,
        extra=["ACMERetryDelay 1s", "ACMETimeout %ds" % TIMEOUT_S]))
    roots = peb.roots()
    root_file = peb.root_file()
    t0 = time.monotonic()
    while time.monotonic() - t0 < DEADLINE and not all(r.done for r in rows):
        assert httpd.running(), "httpd died:\n" + httpd.diagnostics()
        for r in rows:
            if not r.done:
                step(r, httpd, proxy, roots, root_file)
        time.sleep(0.5)
    total = time.monotonic() - t0

    table = ["%-14s %-6s %-28s %s" % ("case", "phase", "outcome", "s to recover")]
    for r in rows:
        table.append("%-14s %-6s %-28s %s" % (
            r.kind, r.phase, r.outcome or "(not done: %s)" % r.state,
            "%.1f" % r.recover_s if r.recover_s is not None else "-"))
        table.extend("    PROBLEM: %s" % p for p in r.problems)
    table.append("whole table: %.1f s" % total)
    report("fault table", table)
    timing("fault table, all cases and phases", total)
    for r in rows:
        if r.seen:
            print("  %s: %s" % (r.name, r.seen.split("could not be obtained: ", 1)[-1][:200]))

    assert httpd.running()
    bad = [r for r in rows if r.problems or not r.done]
    assert not bad, "cases that failed: %s\n%s" % (
        ["%s/%s (%s): %s" % (r.kind, r.phase, r.state, r.problems) for r in bad],
        httpd.diagnostics(80))
    slow = [(r.kind, r.phase, r.recover_s) for r in rows if r.recover_s > RECOVER_BOUND]
    assert not slow, "recovered only after more than %d s: %s" % (RECOVER_BOUND, slow)
    # a 429's Retry-After is honoured: the next newOrder of that name comes after it ran out
    name = _name("429", "first")
    orders = [rec for rec in proxy.new_orders() if isinstance(rec.payload, dict) and any(
        i.get("value") == name for i in rec.payload.get("identifiers", []))]
    assert len(orders) >= 2 and orders[0].injected, orders
    gap = orders[1].mono - orders[0].mono
    print("429 with Retry-After %d s: next newOrder %.1f s later" % (proxy.fault_retry_after, gap))
    assert gap >= proxy.fault_retry_after - 0.5, gap


def test_tls_verification_names_ca_file(pebble_factory, httpd_factory, workdir):
    """ACMEServerCAFile holding another CA than the one of pebble's listener: the attempt fails
    with a TLS verification error that names the CA file in use; the fallback keeps serving.
    (Real pebble, no proxy.)"""
    wrong_ca, _, _ = harness.make_ca_and_leaf(os.path.join(workdir, "wrong-ca"))
    peb = pebble_factory()
    v = VHost("tls-verify.mod-acme.test")
    httpd = httpd_factory([v], harness.acme_lines(peb, wrong_ca,
                                                  extra=["ACMERetryDelay 1m"]))
    rx = r"ACME00031.*certificate for %s \(" % re.escape(v.name)
    lines = httpd.wait_for(lambda: httpd.log_entries(rx), 30, interval=0.2,
                           what="the failed attempt (ACME00031)")
    line = lines[0][1]
    print(line)
    assert "TLS verification of the CA's server failed against the CA file %s " \
           "(ACMEServerCAFile)" % wrong_ca in line, line
    assert "APR does not understand" not in line, line
    assert httpd.cert(v.name).is_fallback
    assert httpd.running()


def test_acmetimeout_checked(httpd_factory, pebble_factory):
    """ACMETimeout takes a duration from 1s to 10m; anything else fails `apache2 -t` with a
    message naming the directive."""
    peb = pebble_factory()
    v = VHost("timeout-cfg.mod-acme.test")
    httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file, extra=["ACMETimeout 45s"]),
                          start=False)
    rc, out = httpd.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    for bad in ("ACMETimeout 0", "ACMETimeout 11m", "ACMETimeout soon"):
        httpd = httpd_factory([v], harness.acme_lines(peb, peb.ca_file, extra=[bad]),
                              start=False)
        rc, out = httpd.configtest()
        assert rc != 0 and "Syntax OK" not in out, (bad, out)
        assert "ACMETimeout: '%s' is" % bad.split()[1] in out, out
        assert "from 1s to 10m" in out, out
