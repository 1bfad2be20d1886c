#!/usr/bin/python3
"""Store system calls of mod_acme's watchdog during issuance, from an `strace -f` of a bench run.

    sudo ACME_MODULE=build/.libs/mod_acme.so strace -f -qq -o /tmp/T \\
         -e trace=openat,mkdir,rename,link,unlink,unlinkat,rmdir,fsync \\
         /usr/bin/python3 bench/startup.py --n 100 --runs 1 --modules acme --issuance-only
    /usr/bin/python3 bench/store_calls.py --n 100 /tmp/T [/tmp/T-other]

The watchdog's threads are those that wrote an orders/<id>/order.json; their successful calls
are counted (files created, directories made, links, renames, unlinks, rmdirs, fsyncs), in
total and per certificate (--n). Not a test: it counts, it judges nothing."""
import argparse
import collections
import re

CALL_RX = re.compile(r"\b(openat|mkdir|rename|renameat2|link|unlink|unlinkat|rmdir|fsync|fdatasync)\(")
ORDER_RX = re.compile(r"/orders/[^_/][^/]*/\.order\.json\.tmp")


def joined(path):
    """strace -f lines with the <unfinished ...> and <... resumed> halves put together."""
    pending, out = {}, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            fields = line.split(None, 1)
            if not fields:
                continue
            tid = fields[0]
            if line.endswith("<unfinished ...>"):
                pending[tid] = line[:-len("<unfinished ...>")]
                continue
            m = re.match(r"(\S+)\s+<\.\.\. \w+ resumed>(.*)$", line)
            if m and tid in pending:
                line = pending.pop(tid) + m.group(2)
            out.append(line)
    return out


def count(path):
    lines = joined(path)
    tids = {l.split()[0] for l in lines if ORDER_RX.search(l)}
    c = collections.Counter()
    for l in lines:
        if l.split()[0] not in tids:
            continue
        m = CALL_RX.search(l)
        if not m or not re.search(r"= \d+\s*$", l):
            continue   # failed calls (EEXIST, ENOENT) create and free nothing
        call = m.group(1)
        if call == "openat":
            if "O_CREAT" in l:
                c["files created"] += 1
            continue
        c["directories made" if call == "mkdir" else call] += 1
    c["new inodes"] = c["files created"] + c["directories made"]
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True, help="certificates issued in the run")
    ap.add_argument("traces", nargs="+")
    args = ap.parse_args()
    counts = [count(t) for t in args.traces]
    keys = sorted(set().union(*counts))
    print("| call | " + " | ".join(args.traces) + " |")
    print("|---|" + "---|" * len(counts))
    for k in keys:
        print("| %s | %s |" % (k, " | ".join("%d (%.2f a certificate)" % (c[k], c[k] / args.n)
                                             for c in counts)))


if __name__ == "__main__":
    main()
