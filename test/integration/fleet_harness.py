"""A fleet for the fleet-mode tests and bench/fleet.py: N httpd nodes on loopback high ports,
each with its own ServerRoot and local store, the same `ACMEStore pgsql:` database (a real
PostgreSQL from pg_harness.py), the same ACMEFleetKeyFile and distinct ACMEFleetNode names,
behind the TEST-ONLY TCP splitters (tcp_splitter.py) that spread pebble's validation
connections round-robin over the nodes, because pebble validates against one port.

    fleet = Fleet(workdir, pg, pebble, vhosts, n=3)   # pebble's httpPort/tlsPort: the splitters
    fleet.start()
    fleet.wait_all_serve(names, timeout=60)
    fleet.stop()                                       # also at exit (harness.stop_all)
"""

import json
import os
import secrets
import shutil
import signal
import time

import harness
from tcp_splitter import Splitter

# What fleet-db's schema calls the lease table (docs/fleet.md): name, owner, expires, fence.
LEASE_TABLE = "acme_lease"
NODE_TABLE = "acme_node"


def write_root_file(path, text):
    """A root-only (0600) file written from the start with that mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def status_lines():
    """A loopback-only plain vhost with the acme-status handler (JSON) and server-status."""
    return harness.VHost("status.fleet.test", ssl=False, lines=[
        "<Location /acme-status>", "    SetHandler acme-status", "    Require ip 127.0.0.1",
        "</Location>",
        "<Location /server-status>", "    SetHandler server-status",
        "    Require ip 127.0.0.1", "</Location>"])


class Node:
    def __init__(self, name, httpd):
        self.name, self.httpd = name, httpd

    def __repr__(self):
        return "<Node %s pid %s http %d https %d>" % (self.name, self.httpd.pid,
                                                      self.httpd.http_port,
                                                      self.httpd.https_port)

    def kill9(self):
        """kill -9 of the node's whole process group (parent and children): a crash."""
        os.killpg(self.httpd.pid, signal.SIGKILL)

        def gone():
            self.httpd.proc.popen.poll()  # reap the parent: a zombie keeps the group alive
            return not self.httpd.processes_left()
        harness.wait_for(gone, 10, interval=0.1, what="processes of %s gone" % self.name)

    def status_text(self):
        return self.httpd.get("/acme-status", "status.fleet.test").text

    def status_json(self):
        """The node's acme-status JSON (asserts the request succeeded)."""
        r = self.httpd.get("/acme-status", "status.fleet.test")
        assert r.status == 200, r
        return json.loads(r.text)


class Fleet:
    def __init__(self, workdir, pg, pebble, vhosts, n=3, dbname=None, extra_lines=(),
                 names=None):
        self.workdir = workdir
        self.pg, self.pebble = pg, pebble
        self.vhosts = list(vhosts) + [status_lines()]
        self.dbname = dbname or pg.create_database("fleet_%s" % secrets.token_hex(4))
        self.key_file = write_root_file(os.path.join(workdir, "fleet-%s.key" % self.dbname),
                                        secrets.token_hex(32) + "\n")
        self.password_file = None
        if pg.password:
            self.password_file = write_root_file(
                os.path.join(workdir, "pgpass-%s" % self.dbname), pg.password + "\n")
        self.extra_lines = list(extra_lines)
        self.node_names = names or ["node%d" % (i + 1) for i in range(n)]
        self.nodes = []
        for name in self.node_names:
            root = harness.make_tempdir("mod_acme-fleet-%s-" % name)
            h = harness.Httpd(root, harness.free_port(), harness.free_port(),
                              vhosts=self.vhosts, acme_lines=self.lines(name))
            self.nodes.append(Node(name, h))
        self.split_http = Splitter([nd.httpd.http_port for nd in self.nodes],
                                   port=pebble.http_port)
        self.split_https = Splitter([nd.httpd.https_port for nd in self.nodes],
                                    port=pebble.tls_port)
        self.started_at = None
        self.killed = set()

    def lines(self, node_name):
        lines = harness.acme_lines(self.pebble, self.pebble.ca_file) + [
            self.pg.store_line(dbname=self.dbname),
            'ACMEFleetKeyFile "%s"' % self.key_file,
            "ACMEFleetNode %s" % node_name,
            "ACMEChallenges http-01"]
        if self.password_file:
            lines.append('ACMEStorePasswordFile "%s"' % self.password_file)
        return lines + self.extra_lines

    def node(self, name):
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise harness.HarnessError("no node %r in %r" % (name, self.node_names))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, nodes=None):
        """Start the splitters and the nodes (all, or those named), one after the other."""
        if self.started_at is None:
            self.split_http.start()
            self.split_https.start()
            self.started_at = time.monotonic()
        for nd in self.nodes:
            if nodes is None or nd.name in nodes:
                nd.httpd.start()
        return self

    def kill9(self, name):
        """Crash a node (kill -9 of its process group); waits skip it from then on."""
        self.node(name).kill9()
        self.killed.add(name)

    def stop(self):
        for nd in self.nodes:
            try:
                nd.httpd.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others whatever happens
                harness.log("stopping %s: %r" % (nd.name, exc))
        self.split_http.stop()
        self.split_https.stop()

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            for nd in self.nodes:
                shutil.rmtree(nd.httpd.root, ignore_errors=True)

    def diagnostics(self):
        out = ["splitters: %s | %s" % (self.split_http.summary(), self.split_https.summary())]
        for nd in self.nodes:
            out.append("===== %r\n%s" % (nd, nd.httpd.diagnostics(60)))
        try:
            out.append("leases: %r" % self.leases())
            out.append("nodes: %r" % self.pg.query(
                "SELECT node, last_beat, challenge_seq FROM %s" % NODE_TABLE, db=self.dbname))
        except Exception as exc:  # noqa: BLE001
            out.append("(database: %r)" % exc)
        return "\n".join(out)

    # -- the database -------------------------------------------------------------------------

    def leases(self):
        """[(name, owner, seconds until expiry (negative: expired), fence)]."""
        rows = self.pg.query("SELECT name, owner, extract(epoch FROM expires - now()), fence "
                             "FROM %s ORDER BY name" % LEASE_TABLE, db=self.dbname)
        return [(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    # -- what the nodes serve -----------------------------------------------------------------

    def serving(self, names, running_only=True):
        """{node name: {name: CertInfo}} of what each (running) node serves for names."""
        out = {}
        for nd in self.nodes:
            if running_only and not nd.httpd.running():
                continue
            out[nd.name] = {n: harness.fetch_cert(nd.httpd.https_port, n) for n in names}
        return out

    def wait_all_serve(self, names, timeout, not_serials=None, nodes=None):
        """Wait until every running node (or those named) serves each of names a certificate
        that verifies against pebble's root+intermediate, the same serial on every node, and
        (with not_serials {name: serial}) another than that. Returns ({name: CertInfo},
        seconds waited). Bounded; fails at once when a node died."""
        t0 = time.monotonic()
        roots = self.pebble.roots()
        verified = {}

        def check():
            for nd in self.nodes:
                if (nodes is None or nd.name in nodes) and nd.httpd.proc.popen is not None \
                        and not nd.httpd.running() and nd.name not in self.killed:
                    raise harness.WaitAbort("%s exited:\n%s" % (nd.name, nd.httpd.diagnostics()))
            result = {}
            for nd in self.nodes:
                if (nodes is not None and nd.name not in nodes) or not nd.httpd.running():
                    continue
                for n in names:
                    c = harness.fetch_cert(nd.httpd.https_port, n)
                    if c.is_fallback or c.self_signed:
                        return None
                    if not_serials and harness.norm_serial(c.serial) == \
                            harness.norm_serial(not_serials.get(n)):
                        return None
                    if c.serial not in verified:
                        verified[c.serial] = harness.verify(c, roots)
                    if not verified[c.serial][0]:
                        raise harness.WaitAbort("%s serves %s a certificate that does not "
                                                "verify: %s" % (nd.name, n, verified[c.serial][1]))
                    if n in result and result[n].serial != c.serial:
                        return None     # nodes differ (one has not activated yet)
                    result[n] = c
            return result or None
        try:
            got = harness.wait_for(check, timeout, interval=0.5,
                                   what="all nodes serving pebble certificates for %d names"
                                   % len(names))
        except (TimeoutError, harness.WaitAbort) as exc:
            raise AssertionError("%s\n%s" % (exc, self.diagnostics())) from None
        return got, time.monotonic() - t0
