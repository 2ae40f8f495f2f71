#!/usr/bin/env python3
"""Generate the lab's CAs and endpoint certificates under $LAB_STATE/tls.

One lab root CA and one intermediate sign every endpoint certificate except the self-signed
one. Validity dates are relative to now, so the "expiring" and "expired" cases stay what
they say; ``up`` regenerates when the set is older than a day (see ``stale``).

Each case writes certs/<name>.crt (what nginx serves: leaf, plus the intermediate unless the
case is the incomplete chain) and certs/<name>.key, and is listed in cases.json.
"""

import datetime
import json
import os
import sys
import time

from cryptography.hazmat.primitives import serialization  # noqa: F401 - tests read keys through it

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import labpki  # noqa: E402

DOMAIN = "lab.test"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)

# name -> (SANs, not_before offset days, not_after offset days, how it is served)
CASES = {
    "healthy": (["healthy.%s" % DOMAIN], -10, 80, "chain"),
    "expiring": (["expiring.%s" % DOMAIN], -78, 12, "chain"),
    "expired": (["expired.%s" % DOMAIN], -93, -3, "chain"),
    "wrong-name": (["other.%s" % DOMAIN], -10, 80, "chain"),
    "incomplete-chain": (["incomplete-chain.%s" % DOMAIN], -10, 80, "leaf"),
    "self-signed": (["self-signed.%s" % DOMAIN], -10, 80, "self"),
    # the endpoint the renew action replaces with a Pebble certificate (critical: 5 days)
    "renew": (["localhost"], -85, 5, "chain"),
    # nginx's default server: any bench-N.bench.lab.test name matches it
    "default": (["*.bench.%s" % DOMAIN], -10, 80, "chain"),
}


_key = labpki.new_key
_pem = labpki.cert_pem
_key_pem = labpki.key_pem
_write = labpki.write_file


def _name(cn):
    return labpki.name(cn, "fournines lab", organization_first=True)


def _ca(cn, key, issuer_cert, issuer_key, path_len):
    return labpki.certificate(_name(cn), key, issuer_key, issuer_cert, NOW - 400 * DAY, NOW + 3650 * DAY,
                              ca=True, path_length=path_len, key_usage=("key_cert_sign", "crl_sign"), key_ids=True)


def _leaf(names, key, issuer_cert, issuer_key, before, after):
    return labpki.certificate(_name(names[0]), key, issuer_key, issuer_cert, NOW + before * DAY, NOW + after * DAY,
                              ca=False, sans=names, key_usage=("digital_signature",),
                              extended_usage=[labpki.SERVER_AUTH], key_ids=True)


def stale(base, max_age=86400):
    stamp = os.path.join(base, "cases.json")
    return not os.path.exists(stamp) or time.time() - os.path.getmtime(stamp) > max_age


def generate(base):
    for sub in ("ca", "certs", "serve"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    root_key, int_key = _key(), _key()
    root = _ca("fournines lab root CA", root_key, None, None, 1)
    inter = _ca("fournines lab intermediate CA", int_key, root, root_key, 0)
    _write(os.path.join(base, "ca", "root.pem"), _pem(root))
    _write(os.path.join(base, "ca", "intermediate.pem"), _pem(inter))
    cases = {}
    for case, (names, before, after, served) in sorted(CASES.items()):
        key = _key()
        if served == "self":
            cert = _leaf(names, key, None, None, before, after)
            chain = _pem(cert)
        else:
            cert = _leaf(names, key, inter, int_key, before, after)
            chain = _pem(cert) + (_pem(inter) if served == "chain" else b"")
        _write(os.path.join(base, "certs", case + ".crt"), chain)
        _write(os.path.join(base, "certs", case + ".key"), _key_pem(key), 0o600)
        cases[case] = {"names": names, "not_after": cert.not_valid_after_utc.isoformat(),
                       "served": served, "serial": "%x" % cert.serial_number}
    # Pebble's own HTTPS listener, signed by the lab CA so clients verify it with ca-bundle.pem
    key = _key()
    cert = _leaf(["localhost", "127.0.0.1"], key, inter, int_key, -1, 365)
    _write(os.path.join(base, "certs", "pebble-listener.crt"), _pem(cert) + _pem(inter))
    _write(os.path.join(base, "certs", "pebble-listener.key"), _key_pem(key), 0o600)
    _write(os.path.join(base, "cases.json"), json.dumps(cases, indent=2, sort_keys=True).encode())
    return cases


def main(argv):
    base = argv[1]
    force = "--force" in argv
    if force or stale(base):
        generate(base)
        print("tls: generated lab certificates in %s" % base)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
