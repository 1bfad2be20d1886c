#!/usr/bin/python3
"""CPU of writing the staged key as a new file (temporary file, write, fsync, rename, fsync of
the directory) against linking the order's key (link, rename, fsync of the directory), in a
loop that does around it what an order does: orders/<i>/key.sealed written atomically,
staging/<i>/ made, the staged key, orders/<i>/ removed (so inodes are freed as in issuance).

    /usr/bin/python3 bench/store_write_cost.py [--n 1000] [--runs 3] DIR

DIR must be on the file system to measure (the store's); a fresh subdirectory is made and
removed for each run. Prints user + system CPU of the staged key alone, ms an iteration, per
run (the two ways alternate). Not a test: it measures, it judges nothing."""
import argparse
import os
import resource
import shutil
import tempfile


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data):
    d = os.path.dirname(path)
    tmp = os.path.join(d, "." + os.path.basename(path) + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    fsync_dir(d)


def run(way, n, base):
    os.makedirs(os.path.join(base, "orders"))
    os.makedirs(os.path.join(base, "staging"))
    data, spent = os.urandom(300), 0.0
    for i in range(n):
        o, s = os.path.join(base, "orders", str(i)), os.path.join(base, "staging", str(i))
        os.mkdir(o)
        write_atomic(os.path.join(o, "key.sealed"), data)
        os.mkdir(s)
        c0 = cpu()
        if way == "write":
            write_atomic(os.path.join(s, "key.sealed"), data)
        else:
            tmp = os.path.join(s, ".key.sealed.tmp.link")
            os.link(os.path.join(o, "key.sealed"), tmp)
            os.rename(tmp, os.path.join(s, "key.sealed"))
            fsync_dir(s)
        spent += cpu() - c0
        os.unlink(os.path.join(o, "key.sealed"))
        os.rmdir(o)
    return 1000.0 * spent / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("dir")
    args = ap.parse_args()
    res = {"write": [], "link": []}
    for r in range(args.runs):
        for way in (("write", "link") if r % 2 == 0 else ("link", "write")):
            base = tempfile.mkdtemp(prefix="store-write-cost-", dir=args.dir)
            try:
                res[way].append(run(way, args.n, base))
            finally:
                shutil.rmtree(base, ignore_errors=True)
    for way, v in res.items():
        print("%-5s ms CPU a staged key: %s  median %.3f" % (
            way, " ".join("%.3f" % x for x in v), sorted(v)[len(v) // 2]))


if __name__ == "__main__":
    main()
