"""Linode DNS Manager: domains and records, with Linode's TTL rules."""

import re

from .store import bad_request, not_found
from . import validate as v

# Linode accepts these TTLs; any other value is rounded up to the next one (0 = zone default).
TTL_VALUES = (30, 120, 300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800,
              1209600, 2419200)
RECORD_TYPES = ("A", "AAAA", "NS", "MX", "CNAME", "TXT", "SRV", "CAA", "PTR")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
DOMAIN_FIELDS = ("id", "domain", "type", "status", "soa_email", "description", "group",
                 "tags", "ttl_sec", "refresh_sec", "retry_sec", "expire_sec", "master_ips",
                 "axfr_ips")
RECORD_FIELDS = ("id", "type", "name", "target", "ttl_sec", "priority", "weight", "port",
                 "service", "protocol", "tag", "created", "updated")


def round_ttl(value, field="ttl_sec"):
    """Linode's rule: 0 means the zone default; others round up to an allowed value."""
    value = v.integer(value, field, 0)
    if value == 0:
        return 0
    for allowed in TTL_VALUES:
        if value <= allowed:
            return allowed
    return TTL_VALUES[-1]


class DomainsMixin:
    def _seed_domain(self, cfg):
        dom = self.create_domain({k: val for k, val in cfg.items() if k != "records"})
        for rec in cfg.get("records") or []:
            self.create_record(dom["id"], rec)

    def _domain(self, did):
        dom = self.data["domains"].get(str(did))
        if dom is None:
            raise not_found()
        return dom

    def domains_list(self):
        return [dict(d) for d in sorted(self.data["domains"].values(), key=lambda d: d["id"])]

    def domain_get(self, did):
        return dict(self._domain(did))

    def create_domain(self, body):
        name = body.get("domain")
        if not isinstance(name, str) or not _DOMAIN.match(name):
            raise bad_request("domain must be a fully qualified domain name", "domain")
        if any(d["domain"] == name for d in self.data["domains"].values()):
            raise bad_request("Domain %s already exists" % name, "domain")
        dtype = v.string(body.get("type", "master"), "type", ("master", "slave"))
        if dtype == "master" and not body.get("soa_email"):
            raise bad_request("soa_email is required for master domains", "soa_email")
        did = self.store.next_id("domain", 2900001)
        dom = {"id": did, "domain": name, "type": dtype, "status": "active",
               "soa_email": body.get("soa_email") or "", "description": "", "group": "",
               "tags": [], "ttl_sec": 0, "refresh_sec": 0, "retry_sec": 0, "expire_sec": 0,
               "master_ips": [], "axfr_ips": []}
        self.data["domains"][str(did)] = dom
        self._apply_domain(dom, body)
        self.save()
        return dict(dom)

    def update_domain(self, did, body):
        dom = self._domain(did)
        self._apply_domain(dom, body)
        self.save()
        return dict(dom)

    def _apply_domain(self, dom, body):
        if "domain" in body and body["domain"] != dom["domain"]:
            if not isinstance(body["domain"], str) or not _DOMAIN.match(body["domain"]):
                raise bad_request("domain must be a fully qualified domain name", "domain")
            if any(d["domain"] == body["domain"] for d in self.data["domains"].values()):
                raise bad_request("Domain %s already exists" % body["domain"], "domain")
            dom["domain"] = body["domain"]
        if "type" in body:
            dom["type"] = v.string(body["type"], "type", ("master", "slave"))
        for key in ("ttl_sec", "refresh_sec", "retry_sec", "expire_sec"):
            if key in body:
                dom[key] = round_ttl(body[key], key)
        if "status" in body:
            dom["status"] = v.string(body["status"], "status", ("active", "disabled"))
        for key in ("soa_email", "description", "group"):
            if key in body:
                dom[key] = v.string(body[key], key)
        for key in ("tags", "master_ips", "axfr_ips"):
            if key in body:
                dom[key] = v.str_list(body[key], key)

    def delete_domain(self, did):
        self._domain(did)
        del self.data["domains"][str(did)]
        for rid in [r for r, rec in self.data["records"].items() if rec["domain_id"] == int(did)]:
            del self.data["records"][rid]
        self.save()

    # ---- records -----------------------------------------------------------------------
    def _record(self, did, rid):
        self._domain(did)
        rec = self.data["records"].get(str(rid))
        if rec is None or rec["domain_id"] != int(did):
            raise not_found()
        return rec

    @staticmethod
    def record_view(rec):
        return {k: rec[k] for k in RECORD_FIELDS}

    def records_list(self, did):
        self._domain(did)
        return [self.record_view(r) for r in sorted(self.data["records"].values(),
                                                    key=lambda r: r["id"])
                if r["domain_id"] == int(did)]

    def record_get(self, did, rid):
        return self.record_view(self._record(did, rid))

    def create_record(self, did, body):
        self._domain(did)
        rtype = v.string(body.get("type"), "type", RECORD_TYPES)
        rid = self.store.next_id("record", 41000001)
        stamp = self._now()
        rec = {"id": rid, "domain_id": int(did), "type": rtype, "name": "", "target": "",
               "ttl_sec": 0, "priority": 0, "weight": 0, "port": 0, "service": None,
               "protocol": None, "tag": None, "created": stamp, "updated": stamp}
        self._apply_record(rec, body)
        if not rec["target"]:
            raise bad_request("target is required", "target")
        self.data["records"][str(rid)] = rec
        self.save()
        return self.record_view(rec)

    def update_record(self, did, rid, body):
        rec = self._record(did, rid)
        self._apply_record(rec, body)
        rec["updated"] = self._now()
        self.save()
        return self.record_view(rec)

    @staticmethod
    def _apply_record(rec, body):
        if "ttl_sec" in body:
            rec["ttl_sec"] = round_ttl(body["ttl_sec"])
        for key in ("name", "target"):
            if key in body:
                rec[key] = v.string(body[key], key)
        for key in ("priority", "weight", "port"):
            if key in body and body[key] is not None:
                rec[key] = v.integer(body[key], key, 0, 65535)
        for key in ("service", "protocol", "tag"):
            if key in body:
                rec[key] = v.string(body[key], key, required=False)

    def delete_record(self, did, rid):
        self._record(did, rid)
        del self.data["records"][str(rid)]
        self.save()
