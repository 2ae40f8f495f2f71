# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``powerdns`` provider: the PowerDNS Authoritative HTTP API (``/api/v1``).

All TTL changes of one call go into one ``PATCH`` of the zone, which PowerDNS applies in
one transaction. After a change the provider asks PowerDNS to NOTIFY the zone's secondaries
(``PUT .../notify``) so they transfer at once instead of at the next check.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote
from ansible.module_utils.urls import open_url

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError, DNSProvider, RRset, missing_records_error
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, backoff_delays, retry_call


class _Transient(Exception):
    pass


class PowerDNSProvider(DNSProvider):
    name = "powerdns"

    def __init__(self, api_url, api_key, server_id="localhost", timeout=10.0, deadline=60.0, validate_certs=True):
        if not api_url or not str(api_url).startswith(("http://", "https://")):
            raise DNSError("powerdns.api_url %r is not an http(s) URL such as http://127.0.0.1:8081" % (api_url,))
        if not api_key:
            raise DNSError("powerdns.api_key is required (the api-key of the PowerDNS webserver)")
        base = str(api_url).rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        self.base = "%s/servers/%s" % (base, quote(server_id or "localhost", safe=""))
        self.api_key = api_key
        self.timeout = float(timeout)
        self.deadline_seconds = float(deadline)
        self.validate_certs = validate_certs
        self._zones = {}

    def _request(self, method, path, body=None, ok=(200, 204)):
        url = self.base + path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"X-API-Key": self.api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"

        def call():
            try:
                resp = open_url(url, method=method, data=data, headers=headers, timeout=self.timeout,
                                validate_certs=self.validate_certs)
                return resp.getcode(), resp.read()
            except HTTPError as err:
                payload = err.read() if hasattr(err, "read") else b""
                if err.code == 429 or err.code >= 500:
                    raise _Transient("HTTP %d: %s" % (err.code, _error_text(payload)))
                return err.code, payload
            except (URLError, socket.timeout, ConnectionError) as err:
                raise _Transient(str(getattr(err, "reason", err)))

        deadline = Deadline(self.deadline_seconds)
        try:
            status, payload = retry_call(call, deadline, lambda e: isinstance(e, _Transient),
                                         delays=backoff_delays(0.2, 2.0, 4.0))
        except _Transient as err:
            raise DNSError("PowerDNS API %s %s did not succeed within %.0f s: %s"
                           % (method, url, self.deadline_seconds, err))
        if status in (401, 403):
            raise DNSError("the PowerDNS API at %s refused the API key (HTTP %d); give the webserver's api-key "
                           "in powerdns.api_key; nothing was changed" % (self.base, status))
        if status not in ok:
            return status, _error_text(payload)
        return status, json.loads(payload) if payload else None

    def _zone(self, zone, refresh=False):
        if refresh or zone not in self._zones:
            status, body = self._request("GET", "/zones/%s" % quote(zone, safe=""))
            if status in (404, 422):
                raise DNSError("PowerDNS at %s does not host zone %s (HTTP %d: %s); give a zone it serves"
                               % (self.base, zone, status, body))
            if status != 200:
                raise DNSError("PowerDNS GET zone %s failed: HTTP %d: %s" % (zone, status, body))
            self._zones[zone] = body
        return self._zones[zone]

    def check_zone(self, zone):
        self._zone(zone, refresh=True)

    def get(self, zone, keys):
        rrsets = dict(((r["name"].lower(), r["type"]), r) for r in self._zone(zone).get("rrsets", []))
        found, missing = {}, []
        for key in keys:
            raw = rrsets.get(key)
            if raw is None or not [r for r in raw.get("records", []) if not r.get("disabled")]:
                missing.append(key)
                continue
            values = [r["content"] for r in raw["records"] if not r.get("disabled")]
            found[key] = RRset(key[0], key[1], raw.get("ttl"), values, handle=raw)
        if missing:
            raise missing_records_error(zone, missing, "PowerDNS at %s" % self.base)
        return found

    def set_ttls(self, zone, changes):
        patch = {"rrsets": [{"name": r.handle["name"], "type": r.rtype, "ttl": int(ttl), "changetype": "REPLACE",
                             "records": r.handle["records"]} for r, ttl in changes]}
        status, body = self._request("PATCH", "/zones/%s" % quote(zone, safe=""), patch)
        self._zones.pop(zone, None)
        if status not in (200, 204):
            raise DNSError("PowerDNS rejected the TTL change of %d RRset(s) in %s (HTTP %d: %s); nothing was "
                           "changed" % (len(changes), zone, status, body))
        # Secondaries would otherwise wait for the next serial check; a refusal (not a primary zone) is fine.
        self._request("PUT", "/zones/%s/notify" % quote(zone, safe=""), ok=(200,))


def _error_text(payload):
    try:
        return json.loads(payload).get("error") or payload.decode("utf-8", "replace")
    except (ValueError, AttributeError):
        return (payload or b"").decode("utf-8", "replace")[:200]
