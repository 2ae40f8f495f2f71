#!/usr/bin/env python3
"""Time from a provider accepting a TTL change to "verified on all nameservers", and print it.

    .venv/bin/python benchmarks/dns_verify.py [--runs 3] [--counts 1,100] [--providers powerdns,rfc2136]

For each provider and record count: N throw-away A records (bench-NNN) are added to the lab
zone with TTL 3600; then, per run, the provider lowers them all (one API PATCH / one signed
UPDATE) and dns_propagation.wait_converged asks both lab nameservers (PowerDNS primary, Knot
secondary fed by NOTIFY/AXFR) until every record has the new TTL with the same SOA serial.
Prints the provider's own time ("accept") and accepted -> verified ("verify"), median and max
over the runs; the target is verify < 2 s for 100 records. The bench records are deleted at
the end. Needs the lab: lab/up dns.
"""

import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lab"))
sys.path.insert(0, os.path.join(REPO, ".collections"))
import labenv  # noqa: E402

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.powerdns import PowerDNSProvider  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.rfc2136 import RFC2136Provider  # noqa: E402

ZONE = "lab.example."


def providers(env):
    return {
        "powerdns": PowerDNSProvider(env["PDNS_API_URL"], env["PDNS_API_KEY"]),
        "rfc2136": RFC2136Provider(env["DNS_PRIMARY_HOST"], int(env["DNS_PRIMARY_PORT"]), env["DNS_TSIG_KEY_NAME"],
                                   env["DNS_TSIG_SECRET"], env["DNS_TSIG_ALGORITHM"]),
    }


def bench_rrsets(api, count, ttl=None):
    """Create (ttl given) or delete (ttl None) the bench records."""
    rrsets = []
    for i in range(count):
        rrset = {"name": "bench-%03d.%s" % (i, ZONE), "type": "A", "changetype": "DELETE"}
        if ttl is not None:
            rrset.update(changetype="REPLACE", ttl=ttl,
                         records=[{"content": "192.0.2.%d" % (i % 250 + 1), "disabled": False}])
        rrsets.append(rrset)
    status, body = api._request("PATCH", "/zones/%s" % ZONE, {"rrsets": rrsets})
    if status not in (200, 204):
        raise SystemExit("could not write the bench records: HTTP %s %s" % (status, body))
    api._request("PUT", "/zones/%s/notify" % ZONE, ok=(200,))


def expect(keys, ttl):
    return propagation.normalize_expectations([{"name": n, "type": t, "ttl": ttl} for n, t in keys], ZONE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", default="1,100")
    parser.add_argument("--providers", default="powerdns,rfc2136")
    args = parser.parse_args()
    env = labenv.component_env("dns")
    if not env:
        raise SystemExit("the lab DNS is not running: lab/up dns")
    nameservers = [propagation.parse_nameserver(ns) for ns in env["DNS_NAMESERVERS"].split(",")]
    made = providers(env)
    api = made["powerdns"]
    counts = [int(c) for c in args.counts.split(",")]
    biggest = max(counts)
    bench_rrsets(api, biggest, 3600)
    rows = []
    try:
        all_keys = [("bench-%03d.%s" % (i, ZONE), "A") for i in range(biggest)]
        propagation.wait_converged(nameservers, ZONE, expect(all_keys, 3600), timeout=60, interval=0.05)
        for name in args.providers.split(","):
            provider = made[name]
            for count in counts:
                keys = all_keys[:count]
                accept, verify = [], []
                for run in range(args.runs):
                    ttl = 60 + run  # a new value every run, so every run is a real change
                    current = provider.get(ZONE, keys)
                    started = time.monotonic()
                    provider.set_ttls(ZONE, [(current[k], ttl) for k in keys])
                    accepted = time.monotonic()
                    propagation.wait_converged(nameservers, ZONE, expect(keys, ttl), timeout=60, interval=0.02)
                    verified = time.monotonic()
                    accept.append(accepted - started)
                    verify.append(verified - accepted)
                rows.append((name, count, accept, verify))
    finally:
        bench_rrsets(api, biggest)
        left = [r for r in api._zone(ZONE, refresh=True)["rrsets"] if r["name"].startswith("bench-")]
        if left:
            print("warning: %d bench records were not deleted" % len(left))
    print("DNS: provider accepted -> verified on all %d nameservers (%s), %d runs each, profile %s"
          % (len(nameservers), ", ".join(n[0] for n in nameservers), args.runs, labenv.current_profile()))
    print("%-9s %7s %14s %14s %14s %14s" % ("provider", "records", "accept med s", "accept max s",
                                            "verify med s", "verify max s"))
    for name, count, accept, verify in rows:
        print("%-9s %7d %14.3f %14.3f %14.3f %14.3f" % (name, count, statistics.median(accept), max(accept),
                                                          statistics.median(verify), max(verify)))
    worst = max(max(v) for _n, c, _a, v in rows if c == biggest)
    print("target: verify < 2 s for %d records -> worst %.3f s: %s" % (biggest, worst, "met" if worst < 2 else "MISSED"))


if __name__ == "__main__":
    main()
