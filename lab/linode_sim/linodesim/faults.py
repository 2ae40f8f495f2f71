"""Fault injection for tests: error rate and status per route, latency, 429 bursts,
fail-the-next-N. Managed through the admin endpoint (/__admin/faults), never under /v4."""

import random
import re
import threading

from .store import ApiError, bad_request


class Faults:
    """Rules are checked in order; the first one that fires decides the response.

    A rule: {"method": "GET"|"*", "path": regex matched against the path after /v4,
    "status": 500, "rate": 1.0, "count": N or null (unlimited), "latency_ms": 0,
    "retry_after": 1 (used with 429)}. A rule with only latency_ms delays matching requests.
    """

    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.rules = []
        self.random = random.Random(seed)

    def add(self, rule):
        if not isinstance(rule, dict):
            raise bad_request("a fault rule must be an object")
        method = str(rule.get("method", "*")).upper()
        try:
            pattern = re.compile(rule.get("path", ".*"))
        except (re.error, TypeError) as err:
            raise bad_request("path is not a valid regular expression: %s" % err, "path")
        status = rule.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise bad_request("status must be an HTTP error status (400-599)", "status")
        rate = float(rule.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise bad_request("rate must be between 0 and 1", "rate")
        count = rule.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise bad_request("count must be a non-negative integer or null", "count")
        entry = {"method": method, "path": pattern.pattern, "status": status, "rate": rate,
                 "count": count, "latency_ms": float(rule.get("latency_ms", 0)),
                 "retry_after": int(rule.get("retry_after", 1)), "hits": 0, "_re": pattern}
        with self.lock:
            self.rules.append(entry)
        return self.public(entry)

    def burst_429(self, count, retry_after=1, path=".*"):
        return self.add({"status": 429, "count": count, "retry_after": retry_after,
                         "path": path})

    def clear(self):
        with self.lock:
            self.rules = []

    @staticmethod
    def public(rule):
        return {k: val for k, val in rule.items() if not k.startswith("_")}

    def listing(self):
        with self.lock:
            return [self.public(r) for r in self.rules]

    def check(self, method, path):
        """Return (latency_seconds, ApiError or None) for one request."""
        latency, error = 0.0, None
        with self.lock:
            for rule in self.rules:
                if rule["method"] not in ("*", method) or not rule["_re"].search(path):
                    continue
                latency += rule["latency_ms"] / 1000.0
                if error is not None or rule["status"] is None:
                    continue
                if rule["count"] is not None and rule["count"] <= 0:
                    continue
                if self.random.random() >= rule["rate"]:
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                rule["hits"] += 1
                headers = {}
                reason = "Simulated fault (HTTP %d)" % rule["status"]
                if rule["status"] == 429:
                    headers["Retry-After"] = str(rule["retry_after"])
                    reason = "Too many requests"
                error = ApiError(rule["status"], reason, headers=headers)
        return latency, error
