"""Spec 4: issuance succeeds although pebble rejects nonces (badNonce must be retried)."""

import pytest

import harness
from harness import VHost


@pytest.mark.parametrize("reject", [None, "50"], ids=["pebble-default-5pct", "50pct"])
def test_issuance_despite_bad_nonces(httpd_factory, pebble_factory, reject, timing):
    pebble = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": reject})
    assert pebble.count(r"reject %s%% of good nonces" % (reject or "5")) == 1, \
        "pebble not configured as intended:\n" + pebble.log_text()[:2000]
    v = VHost("nonce.mod-acme.test", aliases=["www.nonce.mod-acme.test"])
    httpd = httpd_factory([v], harness.acme_lines(pebble, pebble.ca_file))
    cert, waited = httpd.wait_for_cert(v.name, pebble, timeout=60, names=v.names)
    timing("start -> certificate with %s%% nonces rejected (%d POSTs to pebble)" % (
        reject or "5", pebble.count(r"POST /")), waited)
    assert cert.sans == sorted(v.names)
    # the core's debug lines name the file and line that logged them, not the module's sink
    # (mod_acme.c), and carry their id
    loaded = httpd.log_entries(r"acme_client\.c\(\d+\): ACME00202: directory .* loaded")
    assert loaded, "no ACME00202 line from acme_client.c:\n" + "\n".join(
        line for _, line in httpd.log_entries(r"ACME0020"))
    assert not httpd.log_entries(r"mod_acme\.c\(\d+\): ACME"), \
        "core lines attributed to the sink in mod_acme.c"
    if reject == "50":
        # at 50% some POST was surely rejected and retried (ACME00203)
        assert httpd.log_entries(r"acme_client\.c\(\d+\): ACME00203: POST .*badNonce")
