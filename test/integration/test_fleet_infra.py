"""The fleet tests' own infrastructure, proven without the module: a real PostgreSQL 15
(pg_harness.py) and the TEST-ONLY TCP splitter (tcp_splitter.py, which exists only because
pebble validates against one port: it is not a CA fault)."""

import os
import socket
import subprocess
import threading

import harness
import pg_harness
from tcp_splitter import Splitter

PASSWORD = "fleet-test-pw"


postgres = pg_harness.module_fixture(password=PASSWORD)


def _psql_as_role(pg, sql, password):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C", "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"}
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           pg.conninfo(), "-c", sql], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=30, env=env)


def test_postgres_role_over_tcp_and_restart(postgres):
    pg = postgres
    assert harness.port_accepts(pg.port)
    r = _psql_as_role(pg, "CREATE TABLE IF NOT EXISTS t (v int); INSERT INTO t VALUES (42); "
                          "SELECT sum(v) FROM t", PASSWORD)
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stdout
    # the password is checked (scram on 127.0.0.1), so a test can prove a node sends it
    bad = _psql_as_role(pg, "SELECT 1", "wrong")
    assert bad.returncode != 0 and "password authentication failed" in bad.stdout, bad.stdout
    old_pid = pg.proc.pid
    pg.restart(down_seconds=0.5)
    assert pg.proc.pid != old_pid
    r = _psql_as_role(pg, "SELECT sum(v) FROM t", PASSWORD)
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stdout
    assert pg.query("SELECT current_setting('listen_addresses')") == [["127.0.0.1"]]


def test_postgres_stop_leaves_nothing(workdir):
    pg = pg_harness.Postgres(os.path.join(workdir, "pg-stop"))
    try:
        pg.start()
        pid = pg.proc.pid
        # a connected client must not hold the fast shutdown up
        holder = subprocess.Popen(["psql", "-X", pg.conninfo(), "-c", "SELECT pg_sleep(60)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.wait_for(lambda: pg.connections() >= 1, 10, what="psql connected")
            pg.stop(timeout=10)
        finally:
            holder.kill()
            holder.wait(5)
        assert not pg.proc.group_alive(), "processes of postgres group %d left" % pid
        assert not harness.port_accepts(pg.port)
        pg.start()          # same port and data again
        assert pg.table_exists("t") is False   # a fresh cluster: no table of the other test
        pg.crash()
        assert not pg.proc.group_alive()
    finally:
        pg.cleanup()


class _Tagged:
    """A TCP server that answers every connection with its tag and closes."""

    def __init__(self, tag):
        self.tag = tag
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = harness.free_port()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with c:
                c.settimeout(2)
                try:
                    data = c.recv(100)
                    c.sendall(self.tag.encode() + b":" + data)
                except OSError:
                    pass

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def _ask(port, msg=b"ping"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        out = b""
        for _ in range(100):
            d = s.recv(100)
            if not d:
                break
            out += d
    return out.decode()


def test_splitter_round_robin_and_skips_a_dead_node():
    nodes = [_Tagged("n%d" % i) for i in range(3)]
    split = Splitter([n.port for n in nodes]).start()
    try:
        answers = [_ask(split.port, b"x%d" % i) for i in range(9)]
        assert answers[:3] == ["n0:x0", "n1:x1", "n2:x2"], answers
        assert sorted(answers) == sorted("n%d:x%d" % (i % 3, i) for i in range(9)), answers
        assert split.counts == {n.port: 3 for n in nodes}, split.summary()
        nodes[1].close()            # the node dies: its port refuses
        answers = [_ask(split.port) for _ in range(6)]
        assert all(a.split(":")[0] in ("n0", "n2") for a in answers), answers
        assert {a.split(":")[0] for a in answers} == {"n0", "n2"}, answers
        assert split.skipped[nodes[1].port] >= 1, split.summary()
        print(split.summary())
    finally:
        split.stop()
        for n in nodes:
            n.close()
    assert not harness.port_accepts(split.port)
