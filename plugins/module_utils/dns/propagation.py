# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove that every authoritative nameserver serves a change, then wait out the old TTL.

Each nameserver is asked directly (recursion desired cleared) and must answer with the AA
flag: an answer from a cache proves nothing. A nameserver has converged when every
expected RRset has the expected TTL (and values, when given) and its SOA serial equals
the other nameservers'. Resolvers may have cached the old RRset until the last nameserver
switched, so the old answer is gone everywhere at::

    max(last nameserver converged, change accepted + publish lag) + old TTL
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import socket
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import CACHE_CLOCK_SLACK, DNSError, fqdn, normalize_type, validate_ttl
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import iso

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
    HAS_DNSPYTHON = True
except ImportError:  # pragma: no cover
    HAS_DNSPYTHON = False

_HOSTPORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:@\s]+))(?:[:@](?P<port>\d{1,5}))?$")


def parse_nameserver(text, default_port=53):
    """``host``, ``host:port``, ``host@port``, ``[v6]:port`` or a bare IPv6 -> (label, ip, port)."""
    raw = str(text or "").strip()
    if raw.count(":") > 1 and not raw.startswith("["):  # bare IPv6, maybe with @port
        host, _sep, port = raw.partition("@")
        match = {"host": host, "port": port or None}
    else:
        found = _HOSTPORT.match(raw)
        if not found:
            raise DNSError("nameserver %r is not HOST, HOST:PORT or [IPv6]:PORT" % (text,))
        match = {"host": found.group("v6") or found.group("host"), "port": found.group("port")}
    port = int(match["port"]) if match["port"] else int(default_port)
    if not 0 < port < 65536:
        raise DNSError("nameserver %r has port %d; give a port from 1 to 65535" % (text, port))
    host = match["host"]
    try:
        ip = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][4][0]
    except socket.gaierror as err:
        raise DNSError("nameserver %r does not resolve (%s); give an IP address or a resolvable name" % (text, err))
    label = "%s:%d" % (host, port) if ":" not in host else "[%s]:%d" % (host, port)
    return label, ip, port


def discover_nameservers(zone, resolver=None, port=53, timeout=5.0):
    """The zone's NS names and their A/AAAA addresses, as (label, ip, port) tuples."""
    res = dns.resolver.Resolver(configure=resolver is None)
    if resolver is not None:
        _label, ip, rport = parse_nameserver(resolver, 53)
        res.nameservers, res.port = [ip], rport
    res.lifetime = timeout
    try:
        names = sorted(r.target.to_text() for r in res.resolve(zone, "NS"))
    except dns.exception.DNSException as err:
        raise DNSError("cannot find the nameservers of %s through %s: %s; list them in nameservers instead"
                       % (zone, resolver or "the system resolver", err))
    out = []
    for name in names:
        for rtype in ("A", "AAAA"):
            try:
                addresses = [r.address for r in res.resolve(name, rtype)]
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as err:
                raise DNSError("cannot resolve nameserver %s (%s) of %s: %s" % (name, rtype, zone, err))
            for address in addresses:
                entry = ("%s(%s):%d" % (name, address, port), address, port)
                if entry[1:] not in [e[1:] for e in out]:
                    out.append(entry)
    if not out:
        raise DNSError("the NS records of %s (%s) have no addresses" % (zone, ", ".join(names)))
    return out


def query(ip, port, name, rtype, timeout):
    """Ask one nameserver without recursion. Return a dict describing the answer."""
    message = dns.message.make_query(name, rtype)
    message.flags &= ~dns.flags.RD
    try:
        response, _tcp = dns.query.udp_with_fallback(message, ip, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return {"error": "no answer (timed out after %.1f s)" % timeout}
    except (OSError, dns.exception.DNSException) as err:
        return {"error": "no answer (%s)" % (err.__class__.__name__ if not str(err) else err)}
    out = {"rcode": dns.rcode.to_text(response.rcode()), "aa": bool(response.flags & dns.flags.AA),
           "ttl": None, "values": []}
    for rrset in response.answer:
        if rrset.name.to_text().lower() == name and dns.rdatatype.to_text(rrset.rdtype) == rtype:
            out["ttl"] = rrset.ttl
            out["values"] = sorted(r.to_text() for r in rrset)
            if rtype == "SOA":
                out["serial"] = rrset[0].serial
    return out


def normalize_expectations(records, zone):
    out = []
    for index, rec in enumerate(records or []):
        if not isinstance(rec, dict):
            raise DNSError("record %d %r is not a mapping with name, type, ttl, values" % (index + 1, rec))
        name, rtype = fqdn(rec.get("name"), zone), normalize_type(rec.get("type") or "A")
        ttl = rec.get("ttl")
        if ttl is not None:
            ttl = validate_ttl(ttl, "expected ttl of %s %s" % (name, rtype))
        values = rec.get("values")
        out.append({"name": name, "type": rtype, "ttl": ttl,
                    "values": sorted(_canon(v, rtype, zone) for v in values) if values is not None else None})
    if not out:
        raise DNSError("no records to verify; give records with name, type and the expected ttl and/or values")
    return out


def _canon(value, rtype, zone):
    text = str(value).strip()
    if rtype in ("CNAME", "NS", "MX", "PTR", "SRV") and not text.endswith("."):
        parts = text.split()
        parts[-1] = fqdn(parts[-1], zone) if not parts[-1].endswith(".") else parts[-1]
        text = " ".join(parts)
    if rtype == "TXT" and not text.startswith('"'):
        text = '"%s"' % text
    return text


def check_nameserver(ip, port, zone, expectations, timeout):
    """One round against one nameserver -> (converged, serial, answers, reason)."""
    soa = query(ip, port, zone, "SOA", timeout)
    if "error" in soa:
        return False, None, [], soa["error"]
    if not soa["aa"] or soa["rcode"] != "NOERROR":
        return False, None, [], "not authoritative for %s (rcode %s, AA %s)" % (zone, soa["rcode"], soa["aa"])
    answers, reasons = [], []
    for exp in expectations:
        ans = query(ip, port, exp["name"], exp["type"], timeout)
        answers.append(dict(ans, name=exp["name"], type=exp["type"]))
        if "error" in ans:
            reasons.append(ans["error"])
            break
        if not ans["aa"]:
            reasons.append("%s %s answered without the AA flag" % (exp["name"], exp["type"]))
        elif ans["ttl"] is None:
            reasons.append("%s %s: no such RRset (rcode %s)" % (exp["name"], exp["type"], ans["rcode"]))
        elif exp["ttl"] is not None and ans["ttl"] != exp["ttl"]:
            reasons.append("%s %s: ttl %d, want %d" % (exp["name"], exp["type"], ans["ttl"], exp["ttl"]))
        elif exp["values"] is not None and ans["values"] != exp["values"]:
            reasons.append("%s %s: values %s, want %s" % (exp["name"], exp["type"], ans["values"], exp["values"]))
    if not reasons:
        # A transfer can land between the SOA question and the record questions: the answers are then the
        # new zone's under the old serial, and wait_converged would see "serials differ" and start every
        # nameserver's wait again. Only a round that begins and ends on the same serial counts.
        after = query(ip, port, zone, "SOA", timeout)
        if "error" in after:
            return False, soa.get("serial"), answers, after["error"]
        if after.get("serial") != soa.get("serial"):
            return False, after.get("serial"), answers, "zone changed while asked (serial %s, then %s)" % (
                soa.get("serial"), after.get("serial"))
    return not reasons, soa.get("serial"), answers, "; ".join(reasons)


class Progress(object):
    """Timestamped progress lines, kept in memory and appended to an optional file."""

    def __init__(self, path=None, clock=time.monotonic):
        self.lines, self.path, self.clock = [], path, clock
        self.start = clock()

    def __call__(self, text):
        line = "%s +%.1fs %s" % (iso(), self.clock() - self.start, text)
        self.lines.append(line)
        if self.path:
            with open(self.path, "a") as handle:
                handle.write(line + "\n")


def wait_converged(nameservers, zone, expectations, timeout, interval=0.2, query_timeout=2.0, progress=None,
                   once=False, clock=time.monotonic, sleep=time.sleep):
    """Poll until every nameserver converges with the same serial. Returns per-nameserver results.

    Raises DNSError naming each nameserver that had not converged at the deadline (and what it
    last answered), or that never answered at all.
    """
    progress = progress or Progress()
    start = clock()
    state = dict((label, {"nameserver": label, "address": ip, "port": port, "converged": False,
                          "converged_at": None, "converged_after": None, "serial": None, "answers": [],
                          "reason": "not asked yet", "answered": False}) for label, ip, port in nameservers)
    while True:
        for label, ip, port in nameservers:
            entry = state[label]
            if entry["converged"]:
                continue
            ok, serial, answers, reason = check_nameserver(ip, port, zone, expectations, query_timeout)
            entry["answered"] = entry["answered"] or serial is not None
            if reason != entry["reason"] and not ok:
                progress("%s: %s" % (label, reason))
            entry.update(serial=serial, answers=answers, reason=reason)
            if ok:
                entry.update(converged=True, converged_at=iso(), converged_after=round(clock() - start, 3),
                             reason="")
                progress("%s: serves the expected answers (serial %s)" % (label, serial))
        serials = set(e["serial"] for e in state.values() if e["converged"])
        if all(e["converged"] for e in state.values()):
            if len(serials) == 1:
                return [state[label] for label, _ip, _port in nameservers]
            # Same data, different serials: the slow ones still get a transfer; keep asking all.
            progress("serials differ (%s); waiting for them to agree" % ", ".join(str(s) for s in sorted(serials)))
            for entry in state.values():
                entry.update(converged=False, reason="serial %s differs from the others" % entry["serial"])
        if once or clock() - start >= timeout:
            if once:
                return [state[label] for label, _ip, _port in nameservers]
            late = [e for e in state.values() if not e["converged"]]
            parts = []
            for entry in late:
                if not entry["answered"]:
                    parts.append("nameserver %s did not answer (%s)" % (entry["nameserver"], entry["reason"]))
                else:
                    parts.append("nameserver %s still serves something else: %s" % (entry["nameserver"],
                                                                                    entry["reason"]))
            raise DNSError("after %.0f s, %d of %d nameservers of %s have not converged: %s"
                           % (timeout, len(late), len(state), zone, "; ".join(parts)),
                           results=[state[label] for label, _ip, _port in nameservers])
        sleep(interval)


def expiry_moment(results, old_ttl, publish_lag=0.0, changed_at=None, now=None):
    """When the old RRsets have left every cache: (epoch seconds, explanation)."""
    now = now if now is not None else time.time()
    converged = [epoch(r["converged_at"]) for r in results if r.get("converged_at")]
    base = max(converged) if converged else now
    why = "last nameserver converged"
    if changed_at is not None:
        accepted = epoch(changed_at) + float(publish_lag or 0)
        if accepted > base:
            base, why = accepted, "change accepted + publish lag %.0f s" % float(publish_lag or 0)
    return (base + float(old_ttl) + CACHE_CLOCK_SLACK,
            "%s + old TTL %d s + %.0f s for resolvers' whole-second clocks" % (why, int(old_ttl), CACHE_CLOCK_SLACK))


def epoch(value):
    """Epoch seconds from a number or an ISO 8601 timestamp (``Z`` or an offset)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def resumed_expiry(journal, step_name, moment, why):
    """(moment, why), or the earlier moment a previous attempt of the same run saved in ``journal``.

    A re-run keeps the true, earlier moment: the old answers started expiring when the first
    attempt's change was accepted, not when this attempt verified it.
    """
    if journal is None or journal.state.get("status") == "done" or not journal.step_done(step_name):
        return moment, why
    saved = journal.find_step(step_name)["details"].get("expires_at")
    if saved and epoch(saved) < moment:
        return epoch(saved), "saved by the earlier attempt of this run"
    return moment, why


def wait_out_ttl(moment, progress, every=None, clock=time.time, sleep=time.sleep):
    """Sleep until epoch ``moment`` with progress lines: every 10 s, but no more than ~30 lines."""
    deadline = Deadline(max(0.0, moment - clock()), clock=clock, sleep=sleep)
    every = every or max(10.0, deadline.remaining() / 30.0)
    while not deadline.expired():
        progress("old TTL still in caches for %.0f s" % deadline.remaining())
        deadline.sleep(every)
    progress("old TTL expired everywhere")
