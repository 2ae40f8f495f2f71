"""The simulator's state: one JSON document, saved atomically after every change."""

import copy
import json
import os
import threading


class ApiError(Exception):
    """An API error response: Linode's envelope {"errors": [{"reason", "field"}]}."""

    def __init__(self, status, reason, field=None, headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.headers = headers or {}

    def body(self):
        err = {"reason": self.reason}
        if self.field:
            err["field"] = self.field
        return {"errors": [err]}


def bad_request(reason, field=None):
    return ApiError(400, reason, field)


def not_found(what="Not found"):
    return ApiError(404, what)


class Store:
    """Holds `data` (plain JSON types) behind one re-entrant lock; `save()` writes it."""

    def __init__(self, path=None):
        self.path = path
        self.lock = threading.RLock()
        self.data = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                self.data = json.load(fh)

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with self.lock:
            text = json.dumps(self.data, indent=1, sort_keys=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)

    def next_id(self, kind, start):
        ids = self.data.setdefault("next_ids", {})
        value = ids.get(kind, start)
        ids[kind] = value + 1
        return value

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.data)
