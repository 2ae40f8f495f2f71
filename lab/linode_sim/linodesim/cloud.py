"""The simulated cloud: state transitions, scheduled work, and the Node actions they cause.

API handlers call the public methods under the store lock; each method changes state at once
(what the API answers) and schedules the slow part as a task with a due time from the time
profile. The worker thread (`run_due`) runs due tasks and performs Node actions outside the
lock, in order, retrying while the lab's API server is unreachable.
"""

import collections
import copy
import logging
import secrets
import threading
import time
from datetime import datetime, timezone

from .domains import DomainsMixin
from .instances import InstancesMixin
from .lke import LkeMixin
from .nodes import NullBackend

LOG = logging.getLogger("linodesim.cloud")

DEFAULT_CONFIG = {
    "cluster_id": 314159,
    "label": "lab",
    "region": "us-ord",
    "versions": ["1.33", "1.34", "1.35"],
    # kubeletVersion of a node running a minor (the lab API server is v1.35.4)
    "patches": {"1.33": "1.33.9", "1.34": "1.34.6", "1.35": "1.35.4"},
    # None = one minor below the newest version, so an upgrade is possible
    "k8s_version": None,
    "pools": [{"type": "g6-standard-4", "count": 3}],
    # more LKE clusters beside the lab cluster (fleets): [{"cluster_id", "label", "pools", ...}];
    # their Nodes join the same lab API server (see lab/README.md, "A second cluster")
    "clusters": [],
    "domains": [{
        "domain": "fournines.test", "soa_email": "hostmaster@fournines.test", "ttl_sec": 3600,
        "records": [
            {"type": "A", "name": "web.lab", "target": "192.0.2.10", "ttl_sec": 3600},
            {"type": "A", "name": "api.lab", "target": "192.0.2.11", "ttl_sec": 3600},
        ],
    }],
}

ID_BASES = {"pool": 270001, "instance": 81000001, "domain": 2900001, "record": 41000001,
            "task": 1}


def now_iso(ts=None):
    stamp = datetime.fromtimestamp(ts if ts is not None else time.time(), tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S")


class Cloud(LkeMixin, InstancesMixin, DomainsMixin):
    """All simulated resources. `store.data` keys: clusters, pools, nodes, instances,
    domains, records, tasks, orphans (dead Node names awaiting deletion), config."""

    def __init__(self, store, profile, backend=None, config=None, clock=time.time):
        self.store = store
        self.lock = store.lock
        self.profile = profile
        self.backend = backend or NullBackend()
        self.clock = clock
        self.actions = collections.deque()   # Node actions waiting for the worker
        self.action_lock = threading.Lock()
        self.wake = threading.Event()
        self.failures = 0                      # Node actions failed in a row (backoff)
        with self.lock:
            if not store.data.get("clusters"):
                self.reset(config or DEFAULT_CONFIG, instant=True)

    # ---- helpers shared by the mixins -------------------------------------------------
    @property
    def data(self):
        return self.store.data

    def save(self):
        self.store.save()

    def _now(self):
        return now_iso(self.clock())

    def delay(self, key):
        return float(self.profile.get(key, 0))

    def schedule(self, kind, after, **fields):
        task = dict(fields, kind=kind, due=self.clock() + after,
                    id=self.store.next_id("task", ID_BASES["task"]))
        self.data.setdefault("tasks", []).append(task)
        self.wake.set()
        return task

    def node_action(self, verb, arg, then=None):
        """Queue a Node change; `then` (a task dict) runs under the lock once it succeeded."""
        with self.action_lock:
            self.actions.append((verb, arg, then))
        self.wake.set()

    @staticmethod
    def hex_id(nbytes=5):
        return secrets.token_hex(nbytes)

    def pending(self):
        with self.lock:
            return len(self.data.get("tasks", [])) + len(self.actions)

    # ---- reset / seed ------------------------------------------------------------------
    def reset(self, config, instant=False):
        """Forget every resource and build the lab cluster from `config` (see DEFAULT_CONFIG)."""
        merged = copy.deepcopy(DEFAULT_CONFIG)
        merged.update(copy.deepcopy({k: v for k, v in config.items() if v is not None}))
        versions = list(merged["versions"])
        k8s_version = merged.get("k8s_version") or (
            versions[-2] if len(versions) > 1 else versions[-1])
        if k8s_version not in versions:
            raise ValueError("k8s_version %s is not in versions %s" % (k8s_version, versions))
        with self.lock:
            old_names = [n["node_name"] for n in self.data.get("nodes", {}).values()
                         if n.get("node_name")]
            old_names += list(self.data.get("orphans", {}))
            next_ids = self.data.get("next_ids", {})
            # what the first start built: an empty admin reset goes back to it
            seed = self.data.get("seed") or config
            self.store.data = {
                "config": merged, "versions": versions, "clusters": {}, "pools": {},
                "nodes": {}, "instances": {}, "domains": {}, "records": {}, "tasks": [],
                "orphans": {}, "next_ids": next_ids, "seed": seed,
            }
            for name in old_names:
                self.node_action("delete", name)
            self._seed_cluster(merged, k8s_version, instant)
            for extra in merged.get("clusters") or []:
                self.add_cluster(extra, instant=instant)
            for dom in merged.get("domains") or []:
                self._seed_domain(dom)
            self.save()

    def add_cluster(self, cfg, instant=True):
        """One more LKE cluster (a fleet's staging): {"cluster_id", "label", "region",
        "k8s_version", "pools": [{"type", "count", "labels", "taints"}]}. Returns False if a
        cluster with that id and label exists already (nothing changes), True if added."""
        with self.lock:
            cid = int(cfg["cluster_id"])
            label = str(cfg["label"])
            have = self.data["clusters"].get(str(cid))
            if have is not None:
                if have["label"] != label:
                    raise ValueError("cluster_id %d is cluster %r already" % (cid, have["label"]))
                return False
            if any(c["label"] == label for c in self.data["clusters"].values()):
                raise ValueError("label %r is taken by another cluster" % label)
            versions = self.data["versions"]
            k8s_version = cfg.get("k8s_version") or (versions[-2] if len(versions) > 1 else versions[-1])
            if k8s_version not in versions:
                raise ValueError("k8s_version %s is not in versions %s" % (k8s_version, versions))
            region = cfg.get("region") or self.data["config"]["region"]
            self._seed_cluster({"cluster_id": cid, "label": label, "region": region,
                                "pools": cfg.get("pools") or [{"type": "g6-standard-2", "count": 2}]},
                               k8s_version, instant)
            self.save()
            return True

    def remove_cluster(self, cid):
        """Delete a cluster added by add_cluster, its pools, instances and Nodes."""
        with self.lock:
            if int(cid) == int(self.data["config"]["cluster_id"]):
                raise ValueError("the lab cluster %s stays (POST /reset rebuilds it)" % cid)
            self._cluster(cid)
            for pool in [p for p in self.data["pools"].values() if p["cluster_id"] == int(cid)]:
                self.delete_pool(cid, pool["id"])
            del self.data["clusters"][str(int(cid))]
            self.save()

    def _seed_cluster(self, cfg, k8s_version, instant):
        cid = int(cfg["cluster_id"])
        stamp = now_iso(self.clock())
        self.data["clusters"][str(cid)] = {
            "id": cid, "label": cfg["label"], "region": cfg["region"],
            "k8s_version": k8s_version, "status": "ready", "tags": [],
            "control_plane": {"high_availability": False, "audit_logs_enabled": False},
            "tier": "standard", "apl_enabled": False, "created": stamp, "updated": stamp,
        }
        for pool in cfg["pools"]:
            self.create_pool(cid, {"type": pool["type"], "count": int(pool["count"]),
                                   "labels": pool.get("labels") or {},
                                   "taints": pool.get("taints") or []}, instant=instant)

    # ---- the worker --------------------------------------------------------------------
    def run_due(self):
        """Run the tasks that are due, then the queued Node actions. Returns True if idle."""
        with self.lock:
            now = self.clock()
            tasks = self.data.get("tasks", [])
            due = sorted((t for t in tasks if t["due"] <= now), key=lambda t: (t["due"], t["id"]))
            for task in due:
                tasks.remove(task)
                getattr(self, "_task_" + task["kind"])(task)
            if due:
                self.save()
        self._run_actions()
        with self.lock:
            return not self.data.get("tasks") and not self.actions

    def _run_actions(self):
        while True:
            with self.action_lock:
                if not self.actions:
                    return
                verb, arg, then = self.actions[0]
            try:
                getattr(self.backend, verb)(arg)
            except Exception as err:  # noqa: BLE001 - keep order, retry after a pause
                self.failures += 1
                if self.failures in (1, 2, 5) or self.failures % 20 == 0:
                    LOG.warning("node action %s %s failed (%d in a row), will retry: %s", verb,
                                arg if isinstance(arg, str) else arg.get("name"), self.failures,
                                (str(err).splitlines() or ["?"])[0])
                if self.failures % 5 == 0:
                    self.backend.reset_client()
                return
            self.failures = 0
            with self.action_lock:
                self.actions.popleft()
            if then is not None:
                with self.lock:
                    getattr(self, "_task_" + then["kind"])(then)
                    self.save()

    def next_due(self):
        with self.lock:
            dues = [t["due"] for t in self.data.get("tasks", [])]
        return min(dues) if dues else None

    def reconcile(self):
        """After a restart: make the lab's Nodes match the state (create missing, delete
        strays, stop heartbeats of powered-off instances)."""
        want, dead = {}, set()
        with self.lock:
            for node in self.data["nodes"].values():
                name = node.get("node_name")
                if not name:
                    continue
                inst = self.data["instances"].get(str(node["instance_id"]))
                if inst is None:
                    continue
                want[name] = self._spec_for(node, inst)
                if inst["status"] != "running":
                    dead.add(name)
                if node["busy"] == "joining":
                    # a restart lost the queued "joined" step: create (idempotent) and finish
                    self.node_action("create", want[name], then={
                        "kind": "joined", "node_id": node["id"], "gen": node["gen"]})
            orphans = set(self.data.get("orphans", {}))
            # Only this simulator's Nodes: another simulator (the benchmark's private cluster)
            # may share the lab's API server, and its Nodes are not strays of ours.
            own = tuple("lke%s-" % cid for cid in self.data["clusters"])
        existing = {name for name in self.backend.list_names() if name.startswith(own)} if own else set()
        for name in existing - set(want) - orphans:
            self.node_action("delete", name)
        for name, spec in want.items():
            if name not in existing:
                self.node_action("create", spec)
            if name in dead:
                self.node_action("stop_heartbeat", name)
        for name in orphans & existing:
            self.node_action("stop_heartbeat", name)


def run_worker(cloud, stop_event, idle_pause=0.5):
    """Background loop: run due work, sleep until the next due time or a wake-up."""
    while not stop_event.is_set():
        try:
            idle = cloud.run_due()
        except Exception:  # noqa: BLE001 - a bug in one task must not stop the cloud
            LOG.exception("worker step failed")
            idle = True
        nxt = cloud.next_due()
        if cloud.actions:   # failing Node actions: back off up to 5 s
            pause = min(5.0, idle_pause * (2 ** min(cloud.failures, 4)))
        else:
            pause = min(idle_pause, max(0.02, nxt - cloud.clock())) if nxt else idle_pause
        cloud.wake.wait(pause)
        cloud.wake.clear()
