"""LKE: clusters, versions, pools, pool nodes, recycles (a mixin of cloud.Cloud)."""

import re

from .nodes import TYPES, node_spec
from .store import ApiError, bad_request, not_found
from . import validate as v

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_POOL_NODES = 100


def _minor(version):
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def check_minor(version):
    if not isinstance(version, str) or not re.fullmatch(r"[1-9]\d*\.\d+", version):
        raise bad_request("version must be a Kubernetes minor such as \"1.36\", got %r" % (version,),
                          "version")
    return version


def check_patch(minor, patch):
    if not isinstance(patch, str) or not re.fullmatch(re.escape(minor) + r"\.\d+", patch):
        raise bad_request("patch must be a patch release of %s such as \"%s.1\", got %r" % (
            minor, minor, patch), "patch")
    return patch


class LkeMixin:
    # ---- lookups -----------------------------------------------------------------------
    def _cluster(self, cid):
        cluster = self.data["clusters"].get(str(cid))
        if cluster is None:
            raise not_found()
        return cluster

    def _pool(self, cid, pid):
        self._cluster(cid)
        pool = self.data["pools"].get(str(pid))
        if pool is None or pool["cluster_id"] != int(cid):
            raise not_found()
        return pool

    def _node(self, cid, nid):
        self._cluster(cid)
        node = self.data["nodes"].get(nid)
        if node is None or node["cluster_id"] != int(cid):
            raise not_found()
        return node

    # ---- views (only catalogued fields) ------------------------------------------------
    def versions(self):
        return [{"id": ver} for ver in self.data["versions"]]

    def cluster_view(self, cid):
        cluster = self._cluster(cid)
        return {key: cluster[key] for key in (
            "id", "label", "region", "k8s_version", "status", "tags", "tier", "apl_enabled",
            "created", "updated")} | {
            "control_plane": {k: cluster["control_plane"][k]
                              for k in ("high_availability", "audit_logs_enabled")},
            "locks": [], "vpc_id": None, "subnet_id": None, "stack_type": "ipv4"}

    def clusters_list(self):
        return [self.cluster_view(cid) for cid in sorted(self.data["clusters"], key=int)]

    def node_view(self, node):
        return {"id": node["id"], "instance_id": node["instance_id"], "status": node["status"]}

    def pool_view(self, pool):
        return {
            "id": pool["id"], "type": pool["type"], "count": pool["count"],
            "nodes": [self.node_view(self.data["nodes"][nid]) for nid in pool["node_ids"]],
            "labels": dict(pool["labels"]), "taints": [dict(t) for t in pool["taints"]],
            "tags": list(pool["tags"]), "autoscaler": dict(pool["autoscaler"]),
            "label": pool.get("label"), "disk_encryption": pool["disk_encryption"],
            "disks": [], "k8s_version": None, "update_strategy": None, "locks": [],
        }

    def pools_list(self, cid):
        self._cluster(cid)
        return [self.pool_view(p) for p in sorted(self.data["pools"].values(),
                                                  key=lambda p: p["id"])
                if p["cluster_id"] == int(cid)]

    def pool_get(self, cid, pid):
        return self.pool_view(self._pool(cid, pid))

    def node_get(self, cid, nid):
        return self.node_view(self._node(cid, nid))

    # ---- cluster -----------------------------------------------------------------------
    def update_cluster(self, cid, body):
        cluster = self._cluster(cid)
        changes = {}
        if "k8s_version" in body:
            changes["k8s_version"] = self._check_upgrade(cluster, body["k8s_version"])
        if "label" in body:
            changes["label"] = v.label(body["label"], "label")
        if "tags" in body:
            changes["tags"] = v.str_list(body["tags"], "tags")
        if "control_plane" in body:
            changes["control_plane"] = self._check_control_plane(cluster, body["control_plane"])
        if any(cluster.get(k) != val for k, val in changes.items()):
            cluster.update(changes)
            cluster["updated"] = self._now()
            self.save()
        return self.cluster_view(cid)

    def _check_upgrade(self, cluster, wanted):
        if not isinstance(wanted, str) or wanted not in self.data["versions"]:
            raise bad_request("k8s_version %r is not available; valid versions: %s" % (
                wanted, ", ".join(self.data["versions"])), "k8s_version")
        have, want = _minor(cluster["k8s_version"]), _minor(wanted)
        if want < have:
            raise bad_request("Downgrading from %s to %s is not supported" % (
                cluster["k8s_version"], wanted), "k8s_version")
        if want[0] != have[0] or want[1] - have[1] > 1:
            raise bad_request("Upgrades must be one minor version at a time: %s can be "
                              "upgraded to %s.%d only" % (cluster["k8s_version"], have[0],
                                                          have[1] + 1), "k8s_version")
        return wanted

    @staticmethod
    def _check_control_plane(cluster, value):
        if not isinstance(value, dict):
            raise bad_request("control_plane must be an object", "control_plane")
        cp = dict(cluster["control_plane"])
        for key in ("high_availability", "audit_logs_enabled"):
            if key in value and value[key] is not None:
                cp[key] = v.boolean(value[key], "control_plane." + key)
        if cluster["control_plane"]["high_availability"] and not cp["high_availability"]:
            raise bad_request("High availability cannot be disabled once enabled",
                              "control_plane.high_availability")
        if "acl" in value:
            cp["acl"] = value["acl"]
        return cp

    def kubeconfig_b64(self, cid, read_kubeconfig):
        self._cluster(cid)
        text = read_kubeconfig()
        if text is None:
            raise ApiError(503, "Cluster kubeconfig is not yet available; try again later")
        import base64  # pylint: disable=import-outside-toplevel
        return {"kubeconfig": base64.b64encode(text.encode()).decode()}

    # ---- pools -------------------------------------------------------------------------
    def create_pool(self, cid, body, instant=False):
        cluster = self._cluster(cid)
        ptype = body.get("type")
        if ptype not in TYPES:
            raise bad_request("type %r is not a valid Linode type for LKE; valid: %s" % (
                ptype, ", ".join(sorted(TYPES))), "type")
        count = v.integer(body.get("count"), "count", 1, MAX_POOL_NODES)
        pid = self.store.next_id("pool", 270001)
        pool = {
            "id": pid, "cluster_id": cluster["id"], "type": ptype, "count": count,
            "node_ids": [], "labels": v.labels(body.get("labels") or {}),
            "taints": self._taints(body.get("taints") or []),
            "tags": v.str_list(body.get("tags") or [], "tags"),
            "autoscaler": self._autoscaler(body.get("autoscaler") or {"enabled": False},
                                           count),
            "label": body.get("label"), "disk_encryption": body.get("disk_encryption")
            or "disabled",
        }
        self.data["pools"][str(pid)] = pool
        for _ in range(count):
            self._add_node(pool, instant)
        self.save()
        return self.pool_view(pool)

    def update_pool(self, cid, pid, body):
        pool = self._pool(cid, pid)
        if "count" in body:
            count = v.integer(body["count"], "count", 1, MAX_POOL_NODES)
            while len(pool["node_ids"]) < count:
                self._add_node(pool, False)
            while len(pool["node_ids"]) > count:
                # LKE removes the newest nodes first
                self._remove_node(self.data["nodes"][pool["node_ids"][-1]])
            pool["count"] = count
        old_labels, old_taints = dict(pool["labels"]), list(pool["taints"])
        if "labels" in body:
            pool["labels"] = v.labels(body["labels"] or {})
        if "taints" in body:
            pool["taints"] = self._taints(body["taints"] or [])
        if pool["labels"] != old_labels or pool["taints"] != old_taints:
            self._sync_pool_meta(pool, old_labels, old_taints)
        if "tags" in body:
            pool["tags"] = v.str_list(body["tags"] or [], "tags")
        if "autoscaler" in body:
            pool["autoscaler"] = self._autoscaler(body["autoscaler"] or {}, pool["count"])
        if body.get("label") is not None:
            pool["label"] = v.label(body["label"], "label")
        self.save()
        return self.pool_view(pool)

    def _sync_pool_meta(self, pool, old_labels, old_taints):
        """LKE applies a pool's label and taint changes to its existing Nodes."""
        change = {"labels": dict(pool["labels"]),
                  "remove_labels": sorted(set(old_labels) - set(pool["labels"])),
                  "taints": [dict(t) for t in pool["taints"]],
                  "remove_taints": sorted({t["key"] for t in old_taints})}
        for nid in pool["node_ids"]:
            name = self.data["nodes"][nid]["node_name"]
            if name:
                self.node_action("update_meta", dict(change, name=name))

    def delete_pool(self, cid, pid):
        pool = self._pool(cid, pid)
        for nid in list(pool["node_ids"]):
            self._remove_node(self.data["nodes"][nid])
        del self.data["pools"][str(pid)]
        self.save()

    @staticmethod
    def _taints(value):
        if not isinstance(value, list):
            raise bad_request("taints must be a list of {key, value, effect}", "taints")
        out = []
        for taint in value:
            if not isinstance(taint, dict) or not taint.get("key"):
                raise bad_request("each taint needs a key", "taints.key")
            if taint.get("effect") not in TAINT_EFFECTS:
                raise bad_request("taint effect must be one of %s" % ", ".join(TAINT_EFFECTS),
                                  "taints.effect")
            out.append({"key": str(taint["key"]), "value": taint.get("value"),
                        "effect": taint["effect"]})
        return out

    @staticmethod
    def _autoscaler(value, count):
        if not isinstance(value, dict):
            raise bad_request("autoscaler must be an object", "autoscaler")
        enabled = v.boolean(value.get("enabled", False), "autoscaler.enabled")
        low = value.get("min", count)
        high = value.get("max", count)
        low = v.integer(low if low is not None else count, "autoscaler.min", 1, MAX_POOL_NODES)
        high = v.integer(high if high is not None else count, "autoscaler.max", 1,
                         MAX_POOL_NODES)
        if low > high:
            raise bad_request("autoscaler.min must not exceed autoscaler.max", "autoscaler.min")
        return {"enabled": enabled, "min": low, "max": high}

    # ---- nodes -------------------------------------------------------------------------
    def _add_node(self, pool, instant):
        nid = "%d-%s" % (pool["id"], self.hex_id(5))
        self.data["nodes"][nid] = {
            "id": nid, "pool_id": pool["id"], "cluster_id": pool["cluster_id"],
            "instance_id": None, "status": "not_ready", "node_name": None, "version": None,
            "busy": "provisioning", "gen": 0}
        pool["node_ids"].append(nid)
        if instant:
            self._task_provision({"node_id": nid, "gen": 0})
        else:
            self.schedule("provision", self.delay("NODE_PROVISION_SECONDS"), node_id=nid, gen=0)

    def _remove_node(self, node):
        if node["instance_id"] is not None:
            self.data["instances"].pop(str(node["instance_id"]), None)
        if node["node_name"]:
            self.node_action("stop_heartbeat", node["node_name"])
            self.node_action("delete", node["node_name"])
        pool = self.data["pools"][str(node["pool_id"])]
        pool["node_ids"].remove(node["id"])
        del self.data["nodes"][node["id"]]

    def delete_node(self, cid, nid):
        node = self._node(cid, nid)
        pool = self.data["pools"][str(node["pool_id"])]
        if pool["count"] <= 1:
            raise bad_request("A node pool must keep at least one node; delete the pool instead")
        self._remove_node(node)
        pool["count"] -= 1
        self.save()

    def recycle_node(self, cid, nid):
        node = self._node(cid, nid)
        if node["busy"]:
            raise ApiError(409, "Node %s is busy (%s); try again when it is ready" % (
                nid, node["busy"]))
        self._task_recycle_start({"node_id": nid, "gen": node["gen"]})
        self.save()

    def recycle_pool(self, cid, pid):
        self._recycle_rolling([self.data["nodes"][n] for n in self._pool(cid, pid)["node_ids"]])

    def recycle_cluster(self, cid):
        self._cluster(cid)
        nodes = [self.data["nodes"][n] for p in sorted(self.data["pools"].values(),
                                                       key=lambda p: p["id"])
                 if p["cluster_id"] == int(cid) for n in p["node_ids"]]
        self._recycle_rolling(nodes)

    def _recycle_rolling(self, nodes):
        """LKE replaces a pool's nodes one after another, not all at once."""
        step = self.delay("NODE_RECYCLE_SECONDS") + 1.0
        offset = 0.0
        for node in nodes:
            if node["busy"]:
                continue
            node["busy"] = "recycle_queued"
            self.schedule("recycle_start", offset, node_id=node["id"], gen=node["gen"])
            offset += step
        self.save()

    # ---- tasks (run by the worker, under the lock) --------------------------------------
    def _live(self, task):
        node = self.data["nodes"].get(task["node_id"])
        return node if node is not None and node["gen"] == task["gen"] else None

    def _task_recycle_start(self, task):
        node = self._live(task)
        if node is None:
            return
        if node["instance_id"] is not None:
            self.data["instances"].pop(str(node["instance_id"]), None)
        if node["node_name"]:
            self.node_action("stop_heartbeat", node["node_name"])
            self.node_action("delete", node["node_name"])
        node.update(instance_id=None, node_name=None, status="not_ready", busy="recycling",
                    gen=node["gen"] + 1)
        self.schedule("provision", self.delay("NODE_RECYCLE_SECONDS"), node_id=node["id"],
                      gen=node["gen"])

    def _task_provision(self, task):
        node = self._live(task)
        if node is None:
            return
        pool = self.data["pools"][str(node["pool_id"])]
        cluster = self.data["clusters"][str(node["cluster_id"])]
        inst = self.new_instance(pool, cluster)
        node.update(instance_id=inst["id"], node_name=inst["label"],
                    version=cluster["k8s_version"], kubelet=self.patch_level(cluster["k8s_version"]),
                    busy="joining")
        self.node_action("create", self._spec_for(node, inst),
                         then={"kind": "joined", "node_id": node["id"], "gen": node["gen"]})

    def _task_joined(self, task):
        node = self._live(task)
        if node is not None and node["busy"] == "joining":
            node.update(status="ready", busy=None)

    def patch_level(self, minor):
        """The kubelet patch version a node of `minor` gets when it is created or recycled."""
        return self.data["config"]["patches"].get(minor, minor + ".0")

    def _spec_for(self, node, inst):
        pool = self.data["pools"][str(node["pool_id"])]
        cluster = self.data["clusters"][str(node["cluster_id"])]
        # the patch level the node got when it joined; older state files lack it
        patch = node.get("kubelet") or self.patch_level(node["version"])
        return node_spec(node["node_name"], pool, inst, patch, cluster["region"])

    # ---- what LKE offers (admin endpoint: releases appear while the lab runs) -------------
    def offer_version(self, version, patch=None):
        """A new Kubernetes minor in /lke/versions (kept in ascending order), with the patch
        level its nodes get. Returns True if something changed."""
        minor = check_minor(version)
        patch = check_patch(minor, patch) if patch is not None else None
        changed = False
        if minor not in self.data["versions"]:
            self.data["versions"].append(minor)
            self.data["versions"].sort(key=_minor)
            changed = True
        if patch is not None and self.data["config"]["patches"].get(minor) != patch:
            self.data["config"]["patches"][minor] = patch
            changed = True
        if changed:
            self.save()
        return changed

    def withdraw_version(self, version):
        """LKE stops offering a minor (its end of life). Refused while a cluster runs it."""
        minor = check_minor(version)
        if minor not in self.data["versions"]:
            raise not_found("version %s is not offered" % minor)
        running = sorted(c["label"] for c in self.data["clusters"].values()
                         if c["k8s_version"] == minor)
        if running:
            raise bad_request("version %s cannot be withdrawn: cluster(s) %s run it" % (
                minor, ", ".join(running)), "version")
        self.data["versions"].remove(minor)
        self.save()

    def release_patch(self, minor, patch):
        """A new patch level of an offered minor: nodes created or recycled from now on run it;
        the nodes already there keep theirs until recycled, as on LKE. Returns True if changed."""
        minor = check_minor(minor)
        if minor not in self.data["versions"]:
            raise bad_request("version %s is not offered; offered: %s" % (
                minor, ", ".join(self.data["versions"])), "version")
        patch = check_patch(minor, patch)
        if self.data["config"]["patches"].get(minor) == patch:
            return False
        self.data["config"]["patches"][minor] = patch
        self.save()
        return True

    def offered(self):
        """Versions, their patch levels, and each cluster's nodes with their kubelet patch."""
        nodes = {}
        for node in self.data["nodes"].values():
            nodes.setdefault(str(node["cluster_id"]), []).append({
                "id": node["id"], "node_name": node["node_name"],
                "kubelet": node.get("kubelet") or (
                    self.patch_level(node["version"]) if node["version"] else None)})
        return {"versions": list(self.data["versions"]),
                "patches": {v: self.patch_level(v) for v in self.data["versions"]},
                "clusters": {cid: {"k8s_version": c["k8s_version"],
                                   "patch": self.patch_level(c["k8s_version"]),
                                   "nodes": sorted(nodes.get(cid, []), key=lambda n: n["id"])}
                             for cid, c in self.data["clusters"].items()}}

    def _task_replace(self, task):
        """A deleted instance's replacement joins; the dead Node object goes away."""
        self.data["orphans"].pop(task["old_name"], None)
        self.node_action("delete", task["old_name"])
        self._task_provision(task)
