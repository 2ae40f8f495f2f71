# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``external_dns`` provider: the TTL annotation external-dns reads on Ingresses/Services.

external-dns >= 0.22 reads ``external-dns.kubernetes.io/ttl``; older deployments (or the
old-prefix flag) read ``external-dns.alpha.kubernetes.io/ttl``. An object carrying the
old prefix keeps it (writing the new one would be ignored there); an object with neither
gets the new one. A record is found by hostname: the hostname annotation (either prefix)
or, on an Ingress, its rules' hosts. "No TTL annotation" is a TTL of None, and restoring
None removes the annotation again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError, DNSProvider, RRset, missing_records_error
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import ApiException, api_error_text

PREFIXES = ("external-dns.kubernetes.io/", "external-dns.alpha.kubernetes.io/")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_ttl_annotation(value):
    """external-dns accepts seconds or a Go duration (``1m30s``); None when absent/invalid."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if text and match:
        h, m, s = (int(g or 0) for g in match.groups())
        return h * 3600 + m * 60 + s
    return None


def hostnames(obj):
    names = set()
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    for prefix in PREFIXES:
        for host in (notes.get(prefix + "hostname") or "").split(","):
            if host.strip():
                names.add(host.strip().lower().rstrip("."))
    if obj.get("kind") == "Ingress":
        for rule in (obj.get("spec") or {}).get("rules") or []:
            if rule.get("host"):
                names.add(rule["host"].lower().rstrip("."))
    return names


def ttl_keys(obj):
    """The TTL annotation keys to write on ``obj``: the prefix(es) it already uses, else the new one."""
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    present = [p + "ttl" for p in PREFIXES if p + "ttl" in notes]
    if present:
        return present
    if PREFIXES[1] + "hostname" in notes and PREFIXES[0] + "hostname" not in notes:
        return [PREFIXES[1] + "ttl"]
    return [PREFIXES[0] + "ttl"]


class ExternalDNSProvider(DNSProvider):
    name = "external_dns"

    def __init__(self, kube, namespaces=None):
        self.kube = kube
        self.namespaces = list(namespaces or [])

    def _objects(self):
        out = []
        paths = []
        for ns in self.namespaces or [None]:
            scope = "/namespaces/%s" % ns if ns else ""
            paths.append(("Ingress", "/apis/networking.k8s.io/v1%s/ingresses" % scope))
            paths.append(("Service", "/api/v1%s/services" % scope))
        for kind, path in paths:
            try:
                for item in self.kube.items(path):
                    item.setdefault("kind", kind)
                    out.append(item)
            except ApiException as err:
                raise DNSError("cannot list %s at %s: %s" % ({"Ingress": "Ingresses"}.get(kind, kind + "s"), self.kube.host,
                                                             api_error_text(err)))
        return out

    def check_zone(self, zone):
        suffix = zone.rstrip(".")
        if not any(h == suffix or h.endswith("." + suffix) for o in self._objects() for h in hostnames(o)):
            raise DNSError("no Ingress or Service%s names a host in zone %s (hostname annotation or Ingress "
                           "rules); external-dns does not manage that zone from this cluster"
                           % (" in namespaces %s" % ", ".join(self.namespaces) if self.namespaces else "", zone))

    def get(self, zone, keys):
        objects = self._objects()
        found, missing = {}, []
        for name, rtype in keys:
            host = name.rstrip(".")
            mine = [o for o in objects if host in hostnames(o)]
            if not mine:
                missing.append((name, rtype))
                continue
            ttls = []
            for obj in mine:
                notes = obj["metadata"].get("annotations") or {}
                ttls.append(next((parse_ttl_annotation(notes[k]) for k in ttl_keys(obj) if k in notes), None))
            known = [t for t in ttls if t is not None]
            ttl = max(known) if known else None
            found[(name, rtype)] = RRset(name, rtype, ttl, ["%s/%s/%s" % (o["kind"], o["metadata"]["namespace"],
                                                                          o["metadata"]["name"]) for o in mine],
                                         handle=mine)
        if missing:
            raise missing_records_error(zone, missing, "external-dns (no Ingress/Service with that hostname)")
        return found

    def _patch(self, obj, notes):
        path = "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" if obj["kind"] == "Ingress" else \
            "/api/v1/namespaces/%s/services/%s"
        path = path % (obj["metadata"]["namespace"], obj["metadata"]["name"])
        try:
            self.kube.request("PATCH", path, body={"metadata": {"annotations": notes}},
                              content_type="application/merge-patch+json")
        except ApiException as err:
            raise DNSError("cannot annotate %s %s/%s: %s" % (obj["kind"], obj["metadata"]["namespace"],
                                                             obj["metadata"]["name"], api_error_text(err)))

    def set_ttls(self, zone, changes):
        done = []
        try:
            for rrset, ttl in changes:
                for obj in rrset.handle:
                    current = obj["metadata"].get("annotations") or {}
                    keys = ttl_keys(obj)
                    self._patch(obj, dict((k, None if ttl is None else str(int(ttl))) for k in keys))
                    done.append((obj, dict((k, current.get(k)) for k in keys)))
        except DNSError as err:
            for obj, old in reversed(done):
                try:
                    self._patch(obj, old)
                except DNSError:
                    pass
            raise DNSError("%s; the %d object(s) already annotated were put back" % (err, len(done)))
