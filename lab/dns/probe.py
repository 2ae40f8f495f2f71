"""Readiness probe for lab/dns/up: print the SOA serial a server answers for the lab zone.

usage: probe.py HOST PORT ZONE [recurse]   (exit 1 when it does not answer)
"""
import sys

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

host, port, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3]
query = dns.message.make_query(zone, dns.rdatatype.SOA)
if len(sys.argv) < 5:
    query.flags &= ~dns.flags.RD
try:
    response = dns.query.udp(query, host, port=port, timeout=1)
except Exception as err:  # the caller only needs "not yet"
    sys.exit("no answer from %s@%d: %s" % (host, port, err))
for rrset in response.answer:
    if rrset.rdtype == dns.rdatatype.SOA:
        print(rrset[0].serial)
        sys.exit(0)
sys.exit("%s@%d answered %s without a SOA" % (host, port, dns.rcode.to_text(response.rcode())))
