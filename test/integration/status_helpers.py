"""Helpers for the status, acmectl and package tests (test_status.py, test_acmectl.py,
test_package.py): status endpoints in a plain vhost, parsers for their outputs, the secrets
a store holds, and holding the driver's store lock."""

import base64
import calendar
import contextlib
import fcntl
import glob
import json
import os
import re
import time

from harness import VHost

STATUS_HOST = "status.mod-acme.test"


def status_vhost():
    """A plain-http vhost with server-status, acme-status and acme-metrics, loopback only."""
    return VHost(STATUS_HOST, ssl=False, lines=[
        "<Location /server-status>",
        "    SetHandler server-status",
        "    Require ip 127.0.0.1",
        "</Location>",
        "<Location /acme-status>",
        "    SetHandler acme-status",
        "    Require ip 127.0.0.1",
        "</Location>",
        "<Location /metrics>",
        "    SetHandler acme-metrics",
        "    Require ip 127.0.0.1",
        "</Location>",
    ])


def get(httpd, path):
    return httpd.get(path, STATUS_HOST)


def status_json(httpd, name=None):
    r = get(httpd, "/acme-status" + ("/" + name if name else ""))
    assert (r.header("content-type") or "").startswith("application/json"), r
    return r.status, json.loads(r.text)


def parse_auto(text, cert_id):
    """{field: value} of the ?auto lines ACMECertificate.<cert_id>.<field>: value."""
    prefix = "ACMECertificate.%s." % cert_id
    out = {}
    for line in text.splitlines():
        if line.startswith(prefix) and ": " in line:
            field, value = line[len(prefix):].split(": ", 1)
            out[field] = value
    return out


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] of the samples; checks every sample has HELP and TYPE."""
    samples, helped, typed = [], set(), set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            labels = {k: v for k, v in _LABEL.findall(m.group(2) or "")}
            samples.append((m.group(1), labels, float(m.group(3))))
    for name, _, _ in samples:
        assert name in helped and name in typed, "%s without HELP/TYPE" % name
    return samples


def metric(samples, metric_name, **labels):
    vals = [v for n, lab, v in samples
            if n == metric_name and all(lab.get(k) == want for k, want in labels.items())]
    return vals[0] if len(vals) == 1 else (None if not vals else vals)


def rfc3339_to_epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def secrets_of(store):
    """Strings that must never appear in any output: PEM body lines of every private key in
    the store, the account URLs, the store secret (hex and base64), sealed key blobs."""
    out = ["PRIVATE KEY"]
    for path in glob.glob(os.path.join(store, "live", "*", "key.pem")):
        with open(path) as f:
            out += [line.strip() for line in f if line.strip() and not line.startswith("-----")]
    for path in glob.glob(os.path.join(store, "accounts", "*", "account.json")):
        with open(path) as f:
            out.append(json.load(f)["url"])
    for path in glob.glob(os.path.join(store, "system", "secret", "secret.key")):
        with open(path, "rb") as f:
            raw = f.read()
        out += [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(),
                base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    for path in glob.glob(os.path.join(store, "*", "*", "key.sealed")):
        with open(path, "rb") as f:
            blob = f.read()
        out.append(base64.b64encode(blob[:48]).decode()[:40])
    return [s for s in out if s]


def assert_no_secret(text, secrets, what):
    for s in secrets:
        assert s not in text, "%s contains secret material %r..." % (what, s[:16])


@contextlib.contextmanager
def driver_lock(store):
    """Hold the background driver's store lock (flock on locks/driver.lock, as Debian's APR
    does): while held, the server obtains nothing, so a new certificate stays "obtaining"."""
    path = os.path.join(store, "locks", "driver.lock")
    # the driver created it (owned by the User): never create it as root here
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def serial_eq(a, b):
    return a is not None and b is not None and a.upper().lstrip("0") == b.upper().lstrip("0")
