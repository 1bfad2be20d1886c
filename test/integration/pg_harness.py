#!/usr/bin/python3
"""A real PostgreSQL 15 for the fleet-mode tests (Debian's postgresql-15, no mock).

Postgres(workdir).start() runs initdb as the `postgres` user in a fresh data directory under
workdir (owned by postgres, mode 0700), starts the server listening on 127.0.0.1 and a free
high port from harness.free_port() (unix socket in the same temp dir, never /var/run), and
creates a database and a login role for the module. Authentication: trust on the unix socket
(the harness's own psql as `postgres`), and on 127.0.0.1/::1 trust for the test role, or
scram-sha-256 when the test sets a password.

stop() is a fast shutdown (SIGINT), then SIGKILL to the server's process group after a bounded
wait; it runs at interpreter exit too (harness.stop_all). restart() keeps the data and the
port (the issue's test 3), crash() is kill -9 of the whole group.

    /usr/bin/python3 test/integration/pg_harness.py selfcheck
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

PG_BINDIR = os.environ.get("ACME_PG_BINDIR", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"


def pg_bin(name):
    return os.path.join(PG_BINDIR, name)


def pg_ids():
    pw = pwd.getpwnam(PG_USER)
    return pw.pw_uid, pw.pw_gid


def _demote():
    """preexec_fn: become the postgres user (postgres refuses to run as root)."""
    uid, gid = pg_ids()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


class PgProc(harness.Proc):
    """The postmaster, run as `postgres`, in its own process group. Stopped with PostgreSQL's
    fast shutdown (SIGINT: clients are disconnected), not httpd's SIGTERM (PostgreSQL's
    "smart" shutdown would wait for the httpd nodes' connections to close); then as any
    harness.Proc (SIGKILL to the group after a bounded wait)."""

    def __init__(self, name, argv, logfile, env=None, cwd=None):
        super().__init__(name, argv, logfile, env=env, cwd=cwd, preexec_fn=_demote)

    def stop(self, timeout=15):
        if self.popen is not None and self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGINT)
                self.popen.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                harness.log("postgres (pid %d) ignored the fast shutdown for %d s" % (
                    self.popen.pid, timeout))
        super().stop(timeout=5)

    def kill(self):
        """kill -9 of the whole group (the postmaster and its backends), then reaped."""
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().stop(timeout=5)


class Postgres:
    """One PostgreSQL cluster in workdir: database `dbname`, login role `user` (password
    optional), on 127.0.0.1:port."""

    def __init__(self, workdir, dbname="acme", user="acme", password=None, port=None):
        self.workdir = workdir
        self.dbname, self.user, self.password = dbname, user, password
        self.port = port or harness.free_port()
        self.base = os.path.join(workdir, "pg")
        self.datadir = os.path.join(self.base, "data")
        self.sockdir = os.path.join(self.base, "sock")
        self.logfile = os.path.join(workdir, "postgres.log")
        self.proc = None
        self._initialized = False

    # -- set-up -------------------------------------------------------------------------------

    def _prepare_dirs(self):
        uid, gid = pg_ids()
        os.makedirs(self.workdir, exist_ok=True)
        for d in (self.base, self.sockdir):
            os.makedirs(d, exist_ok=True)
            os.chown(d, uid, gid)
            os.chmod(d, 0o700)
        # the log file is written by postgres (stdout), appended by us across restarts
        open(self.logfile, "ab").close()

    def _run_as_pg(self, argv, timeout=120, check=True, input=None):
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=timeout, preexec_fn=_demote, input=input,
                             cwd=self.base, env={"PATH": "/usr/bin:/bin", "LANG": "C"})
        if check and res.returncode != 0:
            raise harness.HarnessError("%s failed (%d):\n%s" % (" ".join(argv), res.returncode,
                                                                res.stdout))
        return res

    def initdb(self):
        self._prepare_dirs()
        self._run_as_pg([pg_bin("initdb"), "-D", self.datadir, "-U", PG_USER, "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync"])
        method = "scram-sha-256" if self.password else "trust"
        with open(os.path.join(self.datadir, "pg_hba.conf"), "w") as f:
            f.write("# written by test/integration/pg_harness.py\n"
                    "local all %s trust\n"
                    "host all %s 127.0.0.1/32 %s\n"
                    "host all %s ::1/128 %s\n" % (PG_USER, self.user, method, self.user, method))
        self._initialized = True

    def _argv(self):
        return [pg_bin("postgres"), "-D", self.datadir, "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=%s" % self.sockdir,
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=100", "-c", "shared_buffers=16MB",
                "-c", "log_connections=on", "-c", "log_disconnections=off",
                "-c", "log_line_prefix=%m [%p] %u@%d "]

    def start(self, timeout=60):
        """initdb (first time), start, wait until it accepts queries, create the role and the
        database (first time). Same port and data on a later start."""
        first = not self._initialized
        if first:
            self.initdb()
        self.proc = PgProc("postgres", self._argv(), self.logfile,
                           env={"PATH": "/usr/bin:/bin", "LANG": "C"}, cwd=self.base)
        self.proc.start()

        def up():
            if not self.proc.running():
                raise harness.WaitAbort("postgres exited:\n" + harness.tail(self.logfile))
            return self.psql("SELECT 1", db="postgres", check=False).returncode == 0 \
                and harness.port_accepts(self.port)
        try:
            harness.wait_for(up, timeout, interval=0.2, what="postgres on 127.0.0.1:%d" % self.port)
            if first:
                self._create_role_and_db()
        except Exception:
            self.stop()
            raise
        return self

    def _create_role_and_db(self):
        pw = "PASSWORD %s" % _sql_literal(self.password) if self.password else ""
        self.psql("CREATE ROLE %s LOGIN %s" % (_ident(self.user), pw), db="postgres")
        self.psql("CREATE DATABASE %s OWNER %s" % (_ident(self.dbname), _ident(self.user)),
                  db="postgres")

    def create_database(self, name):
        """Another database owned by the test role (one per test keeps tests apart)."""
        self.psql("CREATE DATABASE %s OWNER %s" % (_ident(name), _ident(self.user)),
                  db="postgres")
        return name

    def stop(self, timeout=15):
        if self.proc is not None:
            self.proc.stop(timeout=timeout)

    def crash(self):
        """kill -9 of the postmaster and its backends (no shutdown at all)."""
        if self.proc is not None:
            self.proc.kill()

    def restart(self, down_seconds=0.0, timeout=60):
        """Fast shutdown, stay down down_seconds, start again on the same port and data."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        return self.start(timeout=timeout)

    def running(self):
        return self.proc is not None and self.proc.running()

    # -- clients ------------------------------------------------------------------------------

    def conninfo(self, password=False, dbname=None):
        """The libpq conninfo a node uses (the password only when asked: tests prefer
        ACMEStorePasswordFile)."""
        s = "host=127.0.0.1 port=%d dbname=%s user=%s" % (self.port, dbname or self.dbname,
                                                          self.user)
        if password and self.password:
            s += " password=%s" % self.password
        return s

    def store_line(self, local_dir=None, password=False, dbname=None):
        """The ACMEStore directive for this database."""
        line = 'ACMEStore pgsql:"%s"' % self.conninfo(password=password, dbname=dbname)
        if local_dir:
            line += ' "%s"' % local_dir
        return line

    def psql(self, sql, db=None, check=True, timeout=30):
        """Run sql with psql as the superuser over the unix socket; unaligned, tuples only,
        fields separated by '|'. Returns the CompletedProcess (stdout is the result)."""
        return self._run_as_pg([pg_bin("psql") if os.path.exists(pg_bin("psql")) else "psql",
                                "-h", self.sockdir, "-p", str(self.port), "-U", PG_USER,
                                "-d", db or self.dbname, "-X", "-q", "-A", "-t", "-F", "|",
                                "-v", "ON_ERROR_STOP=1", "-c", sql],
                               timeout=timeout, check=check)

    def query(self, sql, db=None):
        """Rows of a query as lists of strings."""
        out = self.psql(sql, db=db).stdout
        return [line.split("|") for line in out.splitlines() if line]

    def table_exists(self, name):
        rows = self.query("SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = %s"
                          % _sql_literal(name))
        return rows and rows[0][0] != "0"

    def connections(self, user=None):
        """How many client backends of user (default: the test role) are connected."""
        rows = self.query("SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
                          % _sql_literal(user or self.user), db="postgres")
        return int(rows[0][0])

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _ident(name):
    return '"%s"' % name.replace('"', '""')


def _sql_literal(text):
    return "'%s'" % text.replace("'", "''")


def postgres_fixture(workdir, **kw):
    """Generator body of the module-scoped fixture module_fixture() makes (a test file
    writes `postgres = pg_harness.module_fixture(password=...)`). Started once for the
    file, stopped (fast shutdown, then kill) whatever the outcome."""
    pg = Postgres(os.path.join(workdir, "postgres"), **kw)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def module_fixture(**kw):
    """A module-scoped pytest fixture named `postgres` (kw as for Postgres), for a test file:

        postgres = pg_harness.module_fixture(password="...")"""
    import pytest  # here: bench/fleet.py imports this module without pytest

    @pytest.fixture(scope="module", name="postgres")
    def _postgres(workdir):
        yield from postgres_fixture(workdir, **kw)
    return _postgres


def selfcheck():
    work = harness.make_tempdir("mod_acme-pgcheck-")
    pg = Postgres(os.path.join(work, "postgres"), password="s3cret-test")
    try:
        pg.start()
        print("postgres on 127.0.0.1:%d: %s" % (pg.port, pg.query("SELECT version()")[0][0]))
        pg.restart(down_seconds=1)
        print("restarted: %s" % pg.query("SELECT 1")[0][0])
        pg.stop()
        assert not pg.proc.group_alive() and not harness.port_accepts(pg.port)
        print("pg_harness selfcheck OK")
        return 0
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] != "selfcheck":
        print("usage: %s selfcheck" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(selfcheck())
