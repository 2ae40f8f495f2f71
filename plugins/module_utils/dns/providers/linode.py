# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``linode`` provider: Linode DNS Manager (``/v4/domains``) through the shared client.

Linode stores one TTL per record (``ttl_sec``) and only from a fixed list; other values
are rounded up, and 0 means the domain's default. ``snap_ttl`` says in advance what
Linode will store, so the plan, the verification and the saved originals all agree.
Records are changed one request at a time; when one fails, those already changed are put
back before the error is raised.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError, DNSProvider, RRset, missing_records_error
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import (
    DEFAULT_API_URL,
    HAS_LINODE,
    LINODE_IMPORT_ERROR,
    ApiError,
    RetryingLinodeClient,
    _describe,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline

#: TTLs Linode keeps as given (ANCHORS.md); anything else is rounded up to the next one.
LINODE_TTLS = (30, 120, 300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800, 1209600, 2419200)


def snap_linode_ttl(ttl):
    """(stored TTL, note or None) for a requested TTL."""
    if ttl in LINODE_TTLS:
        return ttl, None
    stored = next((allowed for allowed in LINODE_TTLS if ttl <= allowed), LINODE_TTLS[-1])
    return stored, ("Linode accepts only TTLs of %s seconds; %d is stored as %d"
                    % (", ".join(str(t) for t in LINODE_TTLS), ttl, stored))


class LinodeProvider(DNSProvider):
    name = "linode"

    def __init__(self, api_token, api_url=None, api_timeout=300.0):
        if not HAS_LINODE:
            raise DNSError("the Python library linode_api4 is required: %s" % LINODE_IMPORT_ERROR)
        if not api_token:
            raise DNSError("no Linode API token: set api_token or the LINODE_TOKEN environment variable")
        url = (api_url or DEFAULT_API_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise DNSError("api_url %r is not an http(s) URL; the default is %s" % (url, DEFAULT_API_URL))
        self.client = RetryingLinodeClient(api_token, url, Deadline(api_timeout or 300.0))
        self._domains = {}

    def _call(self, verb, path, data=None):
        try:
            fn = getattr(self.client, verb)
            return fn(path) if data is None else fn(path, data=data)
        except Exception as err:  # ApiError, or a connection error that outlived the deadline
            if not isinstance(err, ApiError) or not hasattr(err, "status"):
                raise DNSError("Linode API %s %s did not answer before the deadline: %s" % (verb.upper(), path, err))
            if err.status in (401, 403):
                raise DNSError("the Linode API at %s refused the token (HTTP %s); give a valid api_token (or "
                               "LINODE_TOKEN) with Domains read/write; nothing was changed"
                               % (self.client.base_url, err.status))
            raise DNSError("Linode API %s %s failed: %s" % (verb.upper(), path, _describe(err)))

    def _paged(self, path):
        items, page = [], 1
        while True:
            body = self._call("get", "%s?page=%d" % (path, page)) or {}
            items.extend(body.get("data", []))
            if page >= int(body.get("pages", 1) or 1):
                return items
            page += 1

    def _domain(self, zone):
        if zone not in self._domains:
            wanted = zone.rstrip(".")
            matches = [d for d in self._paged("/domains") if d.get("domain", "").lower() == wanted]
            if not matches:
                raise DNSError("the Linode account at %s has no domain %s; give a domain listed by GET /domains"
                               % (self.client.base_url, wanted))
            self._domains[zone] = matches[0]
        return self._domains[zone]

    def check_zone(self, zone):
        self._domains.pop(zone, None)
        self._domain(zone)

    def snap_ttl(self, ttl):
        return snap_linode_ttl(ttl)

    def get(self, zone, keys):
        domain = self._domain(zone)
        records = self._paged("/domains/%d/records" % domain["id"])
        found, missing = {}, []
        for name, rtype in keys:
            rel = "" if name == zone else name[:-len(zone) - 1]
            mine = [r for r in records if (r.get("name") or "").lower() == rel and r.get("type") == rtype]
            if not mine:
                missing.append((name, rtype))
                continue
            # 0 means "the domain default": report the TTL resolvers really get.
            ttls = [r.get("ttl_sec") or domain.get("ttl_sec") or 86400 for r in mine]
            found[(name, rtype)] = RRset(name, rtype, max(ttls), [r.get("target") for r in mine], handle=mine)
        if missing:
            raise missing_records_error(zone, missing, "Linode domain %s" % zone.rstrip("."))
        return found

    def set_ttls(self, zone, changes):
        domain = self._domain(zone)
        done = []
        try:
            for rrset, ttl in changes:
                for record in rrset.handle:
                    path = "/domains/%d/records/%d" % (domain["id"], record["id"])
                    stored = self._call("put", path, {"ttl_sec": int(ttl)})
                    done.append((path, record.get("ttl_sec")))
                    if stored and stored.get("ttl_sec") not in (None, int(ttl)):
                        raise DNSError("Linode stored ttl_sec %s for %s %s instead of %d"
                                       % (stored.get("ttl_sec"), rrset.name, rrset.rtype, ttl))
        except DNSError as err:
            undo_failed = []
            for path, old in reversed(done):
                try:
                    self._call("put", path, {"ttl_sec": old})
                except DNSError as undo_err:
                    undo_failed.append("%s (%s)" % (path, undo_err))
            if undo_failed:
                raise DNSError("%s; putting back the records already changed also failed: %s"
                               % (err, "; ".join(undo_failed)))
            raise DNSError("%s; the %d record(s) already changed were put back" % (err, len(done)))
