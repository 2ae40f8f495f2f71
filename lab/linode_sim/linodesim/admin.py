"""The admin endpoint (/__admin/..., outside /v4, no token): for tests and benchmarks only.

GET    /health            {"ok", "pending"}: pending = scheduled tasks + queued Node actions
GET    /state             the whole state document
POST   /reset             rebuild the lab cluster: {"pools": [{"type", "count"}], "k8s_version",
                          "versions", "instant": true}  (instant = nodes join at once);
                          an empty body rebuilds what the first start built (the seed)
GET    /faults            the fault rules, with hit counts
POST   /faults            add a rule (see faults.Faults); latency_ms with a status holds the request, then
                          refuses it (a DELETE in flight that a killed run never sees answered)
POST   /faults/burst429   {"count": N, "retry_after": s, "path": regex}
DELETE /faults            clear all rules
GET    /requests          the request log (method, path, catalogue op, body, unknown_fields, caller:
                          the caller's token label, "lab" for the lab's own token)
DELETE /requests          clear it
POST   /tokens            {"label": "x"}: a new API token for one caller -> {"label", "token"}; the
                          API accepts it like the lab's own, and keeps that caller's requests apart
GET    /tokens/<label>/requests   that caller's requests only; /reset and DELETE /requests keep them
GET    /settings, PUT /settings   {"strict_fields": bool, "profile": {"NODE_PROVISION_SECONDS": 8}}:
                          a profile delay of the running simulator (new nodes join slower, or never
                          within a test's wait); a restart reads the lab profile again
POST   /reconcile         make the lab's Nodes match the state again (after a cluster restart)
GET    /dead-nodes        Node names whose instance is gone or not running (the edge reads it)
GET    /versions          what LKE offers: {"versions", "patches": {minor: patch}, "clusters":
                          {id: {"k8s_version", "patch", "nodes": [{"id", "node_name", "kubelet"}]}}}
POST   /versions          {"version": "1.36", "patch": "1.36.1"}: a new minor appears in
                          /v4/lke/versions (patch optional, default <minor>.0); no reset
DELETE /versions/<minor>  LKE stops offering a minor (refused while a cluster runs it)
POST   /patches           {"version": "1.34", "patch": "1.34.7"} (or {"1.34": "1.34.7", ...}): a
                          new node patch level; nodes created or recycled from now on run it,
                          the others keep theirs until recycled
POST   /clusters          one more LKE cluster (fleets): {"cluster_id", "label", "region",
                          "k8s_version", "pools": [{"type", "count", "labels", "taints"}]};
                          idempotent (same id and label: nothing changes)
DELETE /clusters/<id>     remove such a cluster with its pools, instances and Nodes
"""

import re
import secrets

from .lke import check_patch
from .store import ApiError, bad_request


def _dead_nodes(cloud):
    with cloud.lock:
        dead = set(cloud.data.get("orphans", {}))
        for node in cloud.data["nodes"].values():
            inst = cloud.data["instances"].get(str(node["instance_id"]))
            if node.get("node_name") and (inst is None or inst["status"] != "running"):
                dead.add(node["node_name"])
    return sorted(dead)


def _releases(cloud, key, body):
    """What LKE offers, changed while the lab runs (the autopilot's tests)."""
    method, path = key
    body = body if isinstance(body, dict) else {}
    with cloud.lock:
        if key == ("GET", "/versions"):
            return 200, cloud.offered()
        if key == ("POST", "/versions"):
            changed = cloud.offer_version(body.get("version"), body.get("patch"))
            return 200, dict(cloud.offered(), changed=changed)
        if method == "DELETE" and path.startswith("/versions/"):
            cloud.withdraw_version(path[len("/versions/"):])
            return 200, dict(cloud.offered(), changed=True)
        if key == ("POST", "/patches"):
            if "version" in body or "patch" in body:
                pairs = [(body.get("version"), body.get("patch"))]
            else:
                pairs = sorted(body.items())
            if not pairs:
                raise bad_request('patches: give {"version": "1.34", "patch": "1.34.7"}')
            # check every pair before changing anything
            for minor, patch in pairs:
                if minor not in cloud.data["versions"]:
                    raise bad_request("version %r is not offered; offered: %s" % (
                        minor, ", ".join(cloud.data["versions"])), "version")
                check_patch(minor, patch)
            changed = [cloud.release_patch(minor, patch) for minor, patch in pairs]
            return 200, dict(cloud.offered(), changed=any(changed))
    raise ApiError(405, "Method %s not allowed on %s" % (method, path))


def handle(ctx, method, path, body, query):
    cloud = ctx.cloud
    key = (method, path.rstrip("/"))
    if key == ("GET", "/health"):
        return 200, {"ok": True, "pending": cloud.pending()}
    if key == ("GET", "/state"):
        return 200, cloud.store.snapshot()
    if key == ("POST", "/reset"):
        config = {k: body[k] for k in ("pools", "k8s_version", "versions", "patches", "label",
                                       "region", "cluster_id", "domains", "clusters") if k in body}
        try:
            cloud.reset(config or cloud.data.get("seed") or {},
                        instant=bool(body.get("instant", True)))
        except (ValueError, KeyError, TypeError) as err:
            raise bad_request("reset: %s" % err)
        ctx.faults.clear()
        return 200, {"ok": True}
    if key == ("GET", "/faults"):
        return 200, {"data": ctx.faults.listing()}
    if key == ("POST", "/faults"):
        return 200, ctx.faults.add(body)
    if key == ("POST", "/faults/burst429"):
        return 200, ctx.faults.burst_429(int(body.get("count", 3)),
                                         int(body.get("retry_after", 1)),
                                         body.get("path", ".*"))
    if key == ("DELETE", "/faults"):
        ctx.faults.clear()
        return 200, {}
    if key == ("GET", "/requests"):
        with ctx.log_lock:
            return 200, {"data": list(ctx.requests)}
    if key == ("DELETE", "/requests"):
        with ctx.log_lock:
            ctx.requests.clear()
        return 200, {}
    if key == ("POST", "/tokens"):
        label = body.get("label") if isinstance(body, dict) else None
        if not isinstance(label, str) or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", label) or label == "lab":
            raise bad_request('tokens: give {"label": "..."}: 1-64 letters, digits, "_", "." or "-", not "lab"',
                              "label")
        with ctx.log_lock:
            token = secrets.token_hex(24)
            ctx.tokens[token] = label
            ctx.token_logs.setdefault(label, [])
        return 200, {"label": label, "token": token}
    if method == "GET" and key[1].startswith("/tokens/") and key[1].endswith("/requests"):
        label = key[1][len("/tokens/"):-len("/requests")]
        with ctx.log_lock:
            if label not in ctx.token_logs:
                raise ApiError(404, "no token labelled %r" % label)
            return 200, {"data": list(ctx.token_logs[label])}
    if key == ("GET", "/settings"):
        return 200, {"strict_fields": ctx.strict_fields, "profile": dict(cloud.profile)}
    if key == ("PUT", "/settings"):
        if "strict_fields" in body:
            ctx.strict_fields = bool(body["strict_fields"])
        # {"profile": {"NODE_REPLACE_SECONDS": 60}}: change one cloud delay of the running simulator (tests
        # that need time between a node's loss and its replacement); a restart reads the profile again.
        for name, value in (body.get("profile") or {}).items():
            if name not in cloud.profile:
                raise bad_request("profile: unknown setting %r; known: %s" % (name, ", ".join(sorted(cloud.profile))))
            try:
                cloud.profile[name] = float(value)
            except (TypeError, ValueError):
                raise bad_request("profile: %s=%r is not a number of seconds" % (name, value))
        return 200, {"strict_fields": ctx.strict_fields, "profile": dict(cloud.profile)}
    if key == ("POST", "/reconcile"):
        try:
            cloud.reconcile()
        except Exception as err:  # noqa: BLE001 - report, do not crash the handler
            raise ApiError(503, "reconcile failed: %s" % err)
        return 200, {"pending": cloud.pending()}
    if key[1] == "/versions" or key[1].startswith("/versions/") or key[1] == "/patches":
        return _releases(cloud, key, body)
    if key == ("POST", "/clusters"):
        try:
            added = cloud.add_cluster(body, instant=bool(body.get("instant", True)))
        except (ValueError, KeyError, TypeError) as err:
            raise bad_request("clusters: %s" % err)
        return 200, {"added": added, "cluster": cloud.cluster_view(int(body["cluster_id"]))}
    if method == "DELETE" and key[1].startswith("/clusters/"):
        try:
            cloud.remove_cluster(int(key[1][len("/clusters/"):]))
        except ValueError as err:
            raise bad_request("clusters: %s" % err)
        return 200, {}
    if key == ("GET", "/dead-nodes"):
        return 200, {"data": _dead_nodes(cloud)}
    raise ApiError(404, "Unknown admin route %s %s" % (method, path))
