#!/usr/bin/python3
"""CPU of mod_acme's watchdog child during issuance, by cause, from `perf record` data.

    sudo /usr/bin/python3 bench/startup.py --n 1000 --runs 1 --modules acme --issuance-only \\
         --profile-watchdog /tmp/wd.data
    /usr/bin/python3 bench/perf_causes.py --n 1000 /tmp/wd.data [/tmp/wd-other.data]

Each sample (perf's cpu-clock at 999 Hz, with DWARF call stacks) goes to the first cause, in
the order of the table, that a function of its stack belongs to; with two files, side by side
(e.g. before and after a change). Prints milliseconds of CPU per certificate (--n). Not a
test: it measures, it judges nothing."""
import argparse
import collections
import os
import subprocess
import sys

HZ = 999.0
STORE_CALLS = {"apr_file_open", "apr_file_rename", "apr_file_remove", "apr_dir_make",
               "apr_dir_make_recursive", "apr_file_write", "apr_file_write_full",
               "apr_file_close", "apr_stat", "apr_file_read", "apr_file_read_full",
               "apr_dir_remove", "apr_dir_open", "apr_dir_read", "apr_file_info_get"}
CAUSES = [
    ("fsync (file and directory)", lambda s, d: s == "apr_file_sync"),
    ("inode allocation (ext4 without a journal skips recently deleted inodes)",
     lambda s, d: s == "__ext4_new_inode"),
    ("other store syscalls (open, write, rename, unlink, mkdir, read)",
     lambda s, d: s in STORE_CALLS),
    ("JWS signing (acme_jws_sign)", lambda s, d: s == "acme_jws_sign"),
    ("chain parse, PEM -> X509 (acme_chain_parse)", lambda s, d: s == "acme_chain_parse"),
    ("CSR (acme_csr_create)", lambda s, d: s == "acme_csr_create"),
    ("key generation (acme_key_generate)", lambda s, d: s == "acme_key_generate"),
    ("key PEM and sealing", lambda s, d: s in ("acme_key_to_pem", "acme_key_from_pem",
                                               "acme_seal", "acme_unseal")),
    ("HTTP: libcurl, TLS records, loopback TCP",
     lambda s, d: "libcurl" in d or "libssl" in d or "libnghttp2" in d or s.startswith("curl_")),
    ("jansson (parse, dump)", lambda s, d: "libjansson" in d),
]
REST = "the rest (malloc, APR pools, chain checks, threads, scheduling)"


def stacks(path):
    """The call stacks of perf.data (innermost frame first) as lists of (symbol, dso)."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "tid,ip,sym,dso"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                         universal_newlines=True, errors="replace").stdout
    cur = None
    for line in out.splitlines():
        if not line.strip():
            if cur is not None:
                yield cur
            cur = None
        elif not line.startswith("\t"):
            cur = []
        elif cur is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2 and " (" in parts[1]:
                sym, dso = parts[1].rsplit(" (", 1)
                cur.append((sym, dso[:-1]))
    if cur is not None:
        yield cur


def causes(path):
    count = collections.Counter()
    for st in stacks(path):
        for name, match in CAUSES:
            if any(match(s, d) for s, d in st):
                count[name] += 1
                break
        else:
            count[REST] += 1
    return count


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="certificates issued in the profile")
    ap.add_argument("data", nargs="+", help="perf.data files (one or two)")
    args = ap.parse_args(argv[1:])
    missing = [p for p in args.data[:2] if not os.path.isfile(p)]
    if missing:
        print("no such profile: %s (bench/startup.py says when it could not make one)"
              % ", ".join(missing), file=sys.stderr)
        return 2
    cols = [causes(p) for p in args.data[:2]]
    ms = lambda v: 1000.0 * v / HZ / args.n   # noqa: E731
    print("| cause | " + " | ".join("%s (ms a certificate)" % p for p in args.data[:2]) + " |")
    print("|---|" + "---|" * len(cols))
    for name in [c[0] for c in CAUSES] + [REST]:
        print("| %s | %s |" % (name, " | ".join("%.2f" % ms(c[name]) for c in cols)))
    print("| **all** | %s |" % " | ".join("**%.2f**" % ms(sum(c.values())) for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
