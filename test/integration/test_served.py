"""Start to served: when every certificate in use has a staged or live set and no order
runs, the restarter activates them at once (no quiet wait) in one restart, and all of
them are served. Against the real pebble; no timing is asserted (the reason the restarter
logs is)."""

import re
import time

from harness import VHost

VHOSTS = [VHost("s%d.served.mod-acme.test" % i) for i in range(1, 4)]
PLAIN = VHost("plain.served.mod-acme.test", ssl=False)


def test_complete_batch_restarts_once_without_quiet_wait(httpd_factory, pebble, acme_config,
                                                         timing):
    t0 = time.monotonic()
    httpd = httpd_factory(VHOSTS + [PLAIN], acme_config)
    for v in VHOSTS:
        remaining = max(1.0, 90 - (time.monotonic() - t0))
        httpd.wait_for_cert(v.name, pebble, timeout=remaining, names=v.names)
    timing("start -> all (3) https vhosts served", time.monotonic() - t0)
    log = httpd.error_log()
    restarts = re.findall(r"ACME00041: new certificate\(s\) staged for ([^:]*): activated (\d+), "
                          r"graceful restart to serve them \(([^)]*)\)", log)
    assert restarts, "no ACME00041 line in the error log:\n%s" % log[-3000:]
    served = set()
    for ids, n, _ in restarts:
        served.update(i.strip() for i in ids.split(","))
    assert served >= {v.name for v in VHOSTS}, restarts
    # the restart that made the last of them live knew the batch was complete: every
    # certificate in use staged or live, no order in flight
    assert restarts[-1][2] == "every certificate is staged or live", restarts
    assert len(restarts) <= 2, "more restarts than batches: %r" % (restarts,)
    assert httpd.running()
