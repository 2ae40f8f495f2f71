# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``rfc2136`` provider: read RRsets from the primary, change TTLs with signed UPDATEs.

All TTL changes of one call go into one UPDATE message, so the server applies all of them
or none. Each RRset is replaced only if it still holds the values we read (a value-
dependent prerequisite), so a concurrent edit makes the update fail instead of being lost.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError, DNSProvider, RRset, missing_records_error
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, backoff_delays, retry_call

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdataset
    import dns.rdatatype
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - reported when the provider is built
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = _err

TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")

#: What a TSIG error from the server means, in words a user can act on.
_TSIG_ERRORS = {
    "BADSIG": "the server answered BADSIG: the secret of TSIG key %(key)s is wrong",
    "BADKEY": "the server answered BADKEY: it does not know TSIG key %(key)s with algorithm %(alg)s",
    "BADTIME": "the server answered BADTIME: the clocks of this host and the server differ too much",
}


def require_dnspython():
    if not HAS_DNSPYTHON:
        raise DNSError("the Python library dnspython is required: %s" % DNSPYTHON_IMPORT_ERROR)


def _transient(err):
    return isinstance(err, (dns.exception.Timeout, ConnectionError, socket.timeout, OSError)) and not isinstance(
        err, DNSError)


def tsig_error_text(err, key, alg):
    """Map dnspython's TSIG exceptions to a plain message, or None."""
    for code, cls in (("BADSIG", "PeerBadSignature"), ("BADKEY", "PeerBadKey"), ("BADTIME", "PeerBadTime")):
        if isinstance(err, getattr(dns.tsig, cls, ())):
            return _TSIG_ERRORS[code] % {"key": key, "alg": alg}
    if isinstance(err, (dns.tsig.BadSignature, getattr(dns.tsig, "BadKey", ()))):
        return "the server's TSIG signature on its answer does not verify with key %s" % key
    return None


class RFC2136Provider(DNSProvider):
    name = "rfc2136"

    def __init__(self, server, port=53, key_name=None, key_secret=None, key_algorithm="hmac-sha256",
                 timeout=10.0, deadline=60.0):
        require_dnspython()
        if not server:
            raise DNSError("rfc2136 needs rfc2136.server: the primary nameserver that accepts updates")
        self.server = _address(server)
        self.port = int(port or 53)
        self.timeout = float(timeout)
        self.deadline_seconds = float(deadline)
        self.keyring = self.key_name = None
        self.key_algorithm = key_algorithm or "hmac-sha256"
        if self.key_algorithm not in TSIG_ALGORITHMS:
            raise DNSError("TSIG algorithm %r is not supported; use one of %s"
                           % (key_algorithm, ", ".join(TSIG_ALGORITHMS)))
        if key_name or key_secret:
            if not (key_name and key_secret):
                raise DNSError("give both rfc2136.tsig_key_name and rfc2136.tsig_key_secret, or neither")
            try:
                self.keyring = dns.tsigkeyring.from_text({key_name: (self.key_algorithm, key_secret)})
            except Exception as err:
                raise DNSError("TSIG secret of key %s is not valid base64 (%s)" % (key_name, err))
            self.key_name = dns.name.from_text(key_name)

    @property
    def where(self):
        return "%s port %d" % (self.server, self.port)

    def _send(self, message, what):
        if self.keyring:
            if isinstance(message, dns.update.UpdateMessage):
                pass  # signed at construction
            else:
                message.use_tsig(self.keyring, keyname=self.key_name, algorithm=self.key_algorithm)
        deadline = Deadline(self.deadline_seconds)
        try:
            return retry_call(lambda: dns.query.tcp(message, self.server, port=self.port,
                                                    timeout=min(self.timeout, max(0.1, deadline.remaining()))),
                              deadline, _transient, delays=backoff_delays(0.2, 2.0, 2.0))
        except DNSError:
            raise
        except Exception as err:
            text = tsig_error_text(err, self.key_name, self.key_algorithm) if HAS_DNSPYTHON else None
            if text:
                raise DNSError("%s for %s at %s; nothing was changed" % (text, what, self.where))
            if isinstance(err, dns.exception.Timeout) or isinstance(err, (socket.timeout, OSError)):
                raise DNSError("nameserver %s did not answer %s within %.0f s (%s)"
                               % (self.where, what, self.deadline_seconds, err.__class__.__name__))
            raise DNSError("%s to %s failed: %s" % (what, self.where, err))

    def _refused(self, response, zone, what):
        rcode = response.rcode()
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NOTAUTH:
            if self.keyring and not response.had_tsig:
                # RFC 8945 servers put BADSIG/BADKEY in a TSIG record; PowerDNS sends NOTAUTH bare.
                return DNSError("%s refused %s with NOTAUTH and no TSIG: it rejects TSIG key %s (%s) -- wrong "
                                "secret, unknown key name or algorithm -- or is not authoritative for %s; "
                                "nothing was changed" % (self.where, what, self.key_name, self.key_algorithm, zone))
            return DNSError("%s is not authoritative for zone %s (NOTAUTH); check the zone name and rfc2136.server"
                            % (self.where, zone))
        if rcode == dns.rcode.REFUSED:
            key = ("TSIG key %s" % self.key_name) if self.keyring else "no TSIG key"
            return DNSError("%s REFUSED %s for zone %s signed with %s: the key is wrong or not allowed to update "
                            "this zone, or the zone is not hosted there; nothing was changed"
                            % (self.where, what, zone, key))
        return DNSError("%s answered %s to %s for zone %s" % (self.where, text, what, zone))

    def check_zone(self, zone):
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        query.flags &= ~dns.flags.RD
        response = self._send(query, "the SOA query")
        if response.rcode() != dns.rcode.NOERROR:
            raise self._refused(response, zone, "the SOA query")
        if not (response.flags & dns.flags.AA) or not any(
                r.rdtype == dns.rdatatype.SOA and r.name.to_text() == zone for r in response.answer):
            raise DNSError("%s does not host zone %s (no authoritative SOA for it); give a zone that server "
                           "is primary for" % (self.where, zone))

    def get(self, zone, keys):
        found, missing = {}, []
        for name, rtype in keys:
            query = dns.message.make_query(name, rtype)
            query.flags &= ~dns.flags.RD
            response = self._send(query, "the query for %s %s" % (name, rtype))
            if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                raise self._refused(response, zone, "the query for %s %s" % (name, rtype))
            rrset = None
            for candidate in response.answer:
                if candidate.name.to_text().lower() == name and dns.rdatatype.to_text(candidate.rdtype) == rtype:
                    rrset = candidate
            if rrset is None:
                missing.append((name, rtype))
                continue
            found[(name, rtype)] = RRset(name, rtype, rrset.ttl, [r.to_text() for r in rrset], handle=rrset)
        if missing:
            raise missing_records_error(zone, missing, "%s (rfc2136)" % self.where)
        return found

    def set_ttls(self, zone, changes):
        kwargs = {}
        if self.keyring:
            kwargs = dict(keyring=self.keyring, keyname=self.key_name, keyalgorithm=self.key_algorithm)
        update = dns.update.UpdateMessage(zone, **kwargs)
        for rrset, new_ttl in changes:
            old = rrset.handle
            update.present(old.name, dns.rdataset.from_rdata_list(0, list(old)))  # RFC 2136: prereq TTL 0
            update.replace(old.name, dns.rdataset.from_rdata_list(new_ttl, list(old)))
        what = "the UPDATE of %d RRset(s)" % len(changes)
        response = self._send(update, what)
        rcode = response.rcode()
        if rcode == dns.rcode.NXRRSET:
            raise DNSError("%s rejected %s: a record changed since it was read (prerequisite failed); "
                           "nothing was changed, run again" % (self.where, what))
        if rcode != dns.rcode.NOERROR:
            raise self._refused(response, zone, what)


def _address(server):
    """An IP address for ``server`` (dnspython queries need addresses, not names)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in server else socket.AF_INET, server)
        return server
    except (OSError, ValueError):
        pass
    try:
        return socket.getaddrinfo(server, 53, 0, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as err:
        raise DNSError("nameserver %r does not resolve (%s); give an IP address or a resolvable name" % (server, err))
