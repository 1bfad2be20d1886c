"""pytest fixtures for mod_acme's integration tests: real httpd + pebble + pebble-challtestsrv.

One challtestsrv and one pebble per test module (pebble's httpPort/tlsPort are the module's
httpd ports, so every httpd of a module reuses them); one httpd per test, each in a fresh
ServerRoot. Everything started here is stopped by PID in the finalizers, whatever the outcome.
Missing tools or a missing module fail the tests (never a silent skip).

Environment: ACME_MODULE (module path), ACME_TEST_KEEP=1 (keep the temp dirs of failed tests).
"""

import os
import shutil
import signal
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def _sig_to_interrupt(signum, frame):
    # SIGTERM/SIGHUP (e.g. from `timeout`) become KeyboardInterrupt: pytest then runs the
    # fixture finalizers, which stop every server by PID.
    raise KeyboardInterrupt("signal %d" % signum)


def pytest_configure(config):
    config.addinivalue_line("markers", "pebble210: needs pebble 2.10 (ARI, profiles); skipped "
                            "when the pebble in use is Debian 12's 2.4")
    config.addinivalue_line("markers", "compat: the compatibility subset also run against "
                            "Debian 12's pebble 2.4 (scripts/test.sh: PEBBLE=/usr/bin/pebble -m compat)")
    # Only the main thread may set handlers: pytest-xdist workers started without a standard
    # input (as in CI) run pytest in another thread. Their servers are still stopped: every
    # server runs in a process group of its own, and harness.stop_all (atexit) stops them.
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _sig_to_interrupt)
    signal.signal(signal.SIGHUP, _sig_to_interrupt)


def pytest_collection_modifyitems(config, items):
    if harness.pebble_is_210():
        return
    skip = pytest.mark.skip(reason="needs pebble 2.10; %s is 2.4 (no ARI, no profiles)"
                            % harness.PEBBLE)
    for item in items:
        if "pebble210" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return "pebble: %s (%s)" % (harness.PEBBLE, "2.10: ARI, profiles" if harness.pebble_is_210()
                                else "2.4: no ARI, no profiles")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(node):
    return any(getattr(getattr(node, "rep_" + w, None), "failed", False)
               for w in ("setup", "call"))


_TIMINGS = []


@pytest.fixture
def timing(request):
    """record(label, seconds): printed in the summary at the end of the run. Kept in the
    report's user_properties, so the figures reach the summary from pytest-xdist workers too."""
    def record(label, seconds):
        request.node.user_properties.append(("mod_acme_timing", (label, seconds)))
        print("TIMING %s: %.1f s" % (label, seconds))
    return record


_REPORTS = []


@pytest.fixture
def report(request):
    """add(title, lines): a table printed in its own section at the end of the run (the fault
    table, the crash runs), whatever the outcome and from pytest-xdist workers too."""
    def add(title, lines):
        request.node.user_properties.append(("mod_acme_report", (title, list(lines))))
        print("\n".join(lines))
    return add


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "mod_acme_timing":
            _TIMINGS.append((report.nodeid, value[0], value[1]))
        elif key == "mod_acme_report":
            _REPORTS.append((report.nodeid, value[0], value[1]))


def pytest_terminal_summary(terminalreporter):
    for nodeid, title, lines in sorted(_REPORTS):
        terminalreporter.section("%s (%s)" % (title, nodeid))
        for line in lines:
            terminalreporter.write_line(line)
    if _TIMINGS:
        terminalreporter.section("mod_acme timings")
        for nodeid, label, seconds in sorted(_TIMINGS):
            terminalreporter.write_line("%6.1f s  %s  (%s)" % (seconds, label, nodeid))


@pytest.fixture(scope="session")
def tools():
    """Fail clearly (not skip) when something the suite needs is missing."""
    problems = []
    for path, pkg in ((harness.APACHE2, "apache2"), (harness.PEBBLE, "pebble"),
                      (harness.CHALLTESTSRV, "pebble"), (harness.OPENSSL, "openssl")):
        if not os.access(path, os.X_OK):
            problems.append("%s missing (Debian package %s: run scripts/deps.sh)" % (path, pkg))
    for _name, f in harness.BASE_MODULES:
        p = os.path.join(harness.APACHE_MODDIR, f)
        if not os.path.isfile(p):
            problems.append("%s missing (Debian package apache2)" % p)
    mod = harness.module_path()
    if not os.path.isfile(mod):
        problems.append("module under test %s missing: run scripts/build.sh (or set ACME_MODULE)"
                        % mod)
    if os.geteuid() != 0:
        problems.append("the integration tests must run as root (httpd switches to User %s)"
                        % harness.HTTPD_USER)
    try:
        harness.httpd_user_ids()
    except KeyError:
        problems.append("user %s missing (Debian package apache2 creates it)" % harness.HTTPD_USER)
    if problems:
        pytest.fail("cannot run the integration tests:\n  " + "\n  ".join(problems),
                    pytrace=False)
    return True


@pytest.fixture(scope="module")
def workdir(tools):
    d = harness.make_tempdir("mod_acme-it-")
    yield d
    if os.environ.get("ACME_TEST_KEEP"):
        print("kept %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def ports(tools):
    """The httpd ports of this module: (plain http, https). pebble validates against them."""
    return harness.free_port(), harness.free_port()


@pytest.fixture(scope="module")
def challtestsrv(workdir):
    srv = harness.ChallTestSrv(os.path.join(workdir, "challtestsrv"))
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def _new_pebble(workdir, challtestsrv, ports, name, **kw):
    return harness.Pebble(os.path.join(workdir, name), challtestsrv.dns_port, ports[0], ports[1],
                          **kw)


@pytest.fixture(scope="module")
def pebble(workdir, challtestsrv, ports):
    """pebble with PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0, shared by a module."""
    p = _new_pebble(workdir, challtestsrv, ports, "pebble")
    try:
        p.start()
        yield p
    finally:
        p.stop()


@pytest.fixture
def pebble_factory(request, workdir, challtestsrv, ports):
    """Start a pebble of one's own (env=..., validity=..., blocklist=...) on the module's
    ports; stopped at the end of the test. Do not combine with the module `pebble` fixture in
    one test (both would be fine, but only one is what httpd talks to)."""
    started = []

    def make(**kw):
        p = _new_pebble(workdir, challtestsrv, ports, "pebble-%s-%d" % (
            request.node.name.replace("/", "_")[:60], len(started)), **kw)
        started.append(p)
        p.start()
        return p
    try:
        yield make
    finally:
        for p in started:
            if _failed(request.node):
                print("--- %s (tail)\n%s" % (p.logfile, harness.tail(p.logfile, 30)))
            p.stop()


@pytest.fixture
def httpd_factory(request, tools, ports):
    """make(vhosts, acme_lines=..., start=True, **kw) -> a started harness.Httpd in a fresh
    ServerRoot (mode 0755) on the module's ports. Stopped (and its ServerRoot removed unless
    ACME_TEST_KEEP is set and the test failed) at the end of the test."""
    made = []

    def make(vhosts, acme_lines=(), start=True, **kw):
        if any(h.running() for h in made):
            raise harness.HarnessError("stop the previous httpd of this test first (same ports)")
        root = harness.make_tempdir("mod_acme-httpd-")
        h = harness.Httpd(root, ports[0], ports[1], vhosts=vhosts, acme_lines=acme_lines, **kw)
        made.append(h)
        if start:
            h.start()
        return h
    try:
        yield make
    finally:
        failed = _failed(request.node)
        for h in made:
            try:
                h.stop()
                if h.processes_left():
                    print("WARNING: processes of httpd group %s still alive" % h.pid)
            finally:
                if failed:
                    print(h.diagnostics())
                if failed and os.environ.get("ACME_TEST_KEEP"):
                    print("kept ServerRoot %s" % h.root)
                else:
                    shutil.rmtree(h.root, ignore_errors=True)


@pytest.fixture
def acme_config(pebble):
    """The admin's three lines plus ACMEServer/ACMEServerCAFile for the module's pebble."""
    return harness.acme_lines(pebble, pebble.ca_file)


@pytest.fixture
def proxy_factory(request):
    """make(pebble, **kw) -> a started TEST-ONLY ACME proxy (acme_proxy.AcmeProxy) in front of
    pebble: adds what pebble 2.4 lacks (renewalInfo/ARI, injected 429s, a request record).
    Stopped at the end of the test; its request record is printed when the test failed."""
    import acme_proxy
    made = []

    def make(peb, **kw):
        p = acme_proxy.AcmeProxy(peb, **kw)
        made.append(p)
        return p.start()
    try:
        yield make
    finally:
        for p in made:
            if _failed(request.node):
                print("--- test-only proxy %s: requests\n%s" % (p.base_url, p.summary()))
            p.stop()
