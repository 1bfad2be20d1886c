#!/usr/bin/python3
"""TEST-ONLY TCP splitter for the fleet tests.

It exists only because pebble validates every challenge against ONE port (its httpPort for
http-01, tlsPort for tls-alpn-01), while a fleet is several httpd nodes on loopback ports. A
real CA validates from several vantage points and a load balancer spreads those requests over
the frontends; the splitter plays that load balancer. It is not a CA fault injector and
changes no byte: each incoming connection is handed, as is, to the next node's port
round-robin (plain TCP, so TLS for tls-alpn-01 passes through untouched).

Like a load balancer's health check, a node whose port refuses the connection is skipped for
that connection (the next one in the ring is tried), so a node that was killed does not make
validations fail; a node that accepts always gets its turn.

    s = Splitter([node1_port, node2_port, node3_port]).start()   # s.port: give it to pebble
    s.counts   # {target_port: connections handed to it}
    s.stop()
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


class Splitter:
    def __init__(self, targets, port=None, host="127.0.0.1", connect_timeout=2.0,
                 idle_timeout=30.0, max_connections=512):
        if not targets:
            raise harness.HarnessError("a splitter needs at least one target port")
        self.targets = list(targets)
        self.host = host
        self.port = port or harness.free_port()
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.counts = {t: 0 for t in self.targets}
        self.skipped = {t: 0 for t in self.targets}
        self.refused = 0          # connections no target accepted
        self._next = 0
        self._lock = threading.Lock()
        self._sock = None
        self._stop = threading.Event()
        self._accept_thread = None
        self._workers = set()

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self._sock = s
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="splitter-%d" % self.port)
        self._accept_thread.start()
        return self

    def stop(self, timeout=5):
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        deadline = time.monotonic() + timeout
        for t in list(self._workers):
            t.join(max(0.1, deadline - time.monotonic()))

    def total(self):
        with self._lock:
            return sum(self.counts.values())

    def summary(self):
        with self._lock:
            return "splitter 127.0.0.1:%d -> %s; skipped (refused) %s; no target %d" % (
                self.port, self.counts, self.skipped, self.refused)

    # -- internals --------------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if len(self._workers) >= self.max_connections:
                client.close()
                continue
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._workers.add(t)
            t.start()

    def _pick(self):
        """The next target in the ring that accepts a connection, or (None, None)."""
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.targets)
        for i in range(len(self.targets)):
            port = self.targets[(start + i) % len(self.targets)]
            try:
                upstream = socket.create_connection((self.host, port),
                                                    timeout=self.connect_timeout)
            except OSError:
                with self._lock:
                    self.skipped[port] += 1
                continue
            with self._lock:
                self.counts[port] += 1
            return port, upstream
        with self._lock:
            self.refused += 1
        return None, None

    def _serve(self, client):
        try:
            _port, upstream = self._pick()
            if upstream is None:
                return
            with upstream:
                a = threading.Thread(target=self._pipe, args=(client, upstream), daemon=True)
                a.start()
                self._pipe(upstream, client)
                a.join(self.idle_timeout)
        finally:
            client.close()
            self._workers.discard(threading.current_thread())

    def _pipe(self, src, dst):
        """Copy src to dst until EOF, an error, idle_timeout without data, or stop()."""
        src.settimeout(0.5)
        idle_since = time.monotonic()
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                if time.monotonic() - idle_since > self.idle_timeout:
                    break
                continue
            except OSError:
                break
            if not data:
                break
            idle_since = time.monotonic()
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
