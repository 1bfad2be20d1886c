#!/usr/bin/python3
"""Make a store of N live certificates for start-up measurements (bench/startup_profile.py)
without a CA: a local root and intermediate (P-256) sign one P-256 certificate per vhost
v00001.bench.mod-acme.test ..., written as live/<name>/chain.pem (leaf + intermediate)
and key.pem (0600). There is no meta.json: the first start rebuilds each from the
certificate (ACME00141), exactly as for a store whose meta files were lost, and later
starts find a complete store. For 1,000 certificates, a store obtained from pebble by
`bench/startup.py --n 1000 --modules acme --keep` is closer to real; at 10,000 that takes
too long on a small machine, and start-up does not care who signed the files.

    sudo /usr/bin/python3 bench/startup_store.py --n 10000 --out /tmp/store10000
"""

import argparse
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOMAIN = "bench.mod-acme.test"


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca_cert(subject, issuer, key, issuer_key, now):
    return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True, help="the store directory to create")
    args = ap.parse_args(argv)
    if os.path.exists(args.out):
        sys.exit("%s exists" % args.out)
    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = ca_cert("bench intermediate", "bench root", inter_key, root_key, now)
    inter_pem = inter.public_bytes(serialization.Encoding.PEM)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key())
    live = os.path.join(args.out, "live")
    os.makedirs(live, mode=0o700)
    os.chmod(args.out, 0o755)
    width = max(4, len(str(args.n)))
    for i in range(1, args.n + 1):
        host = "v%0*d.%s" % (width, i, DOMAIN)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(host))
                .issuer_name(inter.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=90))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .add_extension(aki, critical=False)
                .sign(inter_key, hashes.SHA256()))
        d = os.path.join(live, host)
        os.mkdir(d, 0o700)
        for fname, data in (("chain.pem", cert.public_bytes(serialization.Encoding.PEM) + inter_pem),
                            ("key.pem", key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))):
            fd = os.open(os.path.join(d, fname), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    print("%d certificates in %s" % (args.n, live))


if __name__ == "__main__":
    main(sys.argv[1:])
