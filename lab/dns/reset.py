"""Put the lab zone back as lab/dns/seed.zone has it, through the PowerDNS API (no restart, so
whoever is querying the servers keeps going; the serial goes up and the secondary follows).

usage: reset.py   (environment: PDNS_API_URL and PDNS_API_KEY, from .lab/dns/env)
"""
import json
import os
import sys
import urllib.request

import dns.rdatatype
import dns.zone

HERE = os.path.dirname(os.path.abspath(__file__))


def call(method, path, body=None):
    req = urllib.request.Request(os.environ["PDNS_API_URL"] + "/api/v1/servers/localhost" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-API-Key": os.environ["PDNS_API_KEY"], "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = resp.read()
        return json.loads(data) if data else None


def main():
    zone = dns.zone.from_file(os.path.join(HERE, "seed.zone"), relativize=False)
    origin = zone.origin.to_text()
    seed = {}
    for name, rdataset in zone.iterate_rdatasets():
        if rdataset.rdtype == dns.rdatatype.SOA:
            continue
        seed[(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype))] = rdataset
    current = call("GET", "/zones/%s" % origin)["rrsets"]
    changes = [{"name": n, "type": t, "changetype": "DELETE"} for n, t in
               ((r["name"], r["type"]) for r in current) if t != "SOA" and (n, t) not in seed]
    changes += [{"name": n, "type": t, "ttl": rds.ttl, "changetype": "REPLACE",
                 "records": [{"content": r.to_text(), "disabled": False} for r in rds]} for (n, t), rds in seed.items()]
    call("PATCH", "/zones/%s" % origin, {"rrsets": changes})
    call("PUT", "/zones/%s/notify" % origin)
    print("dns: zone %s reset to lab/dns/seed.zone (%d RRsets, %d removed)"
          % (origin, len(seed), len(changes) - len(seed)))


if __name__ == "__main__":
    sys.exit(main())
