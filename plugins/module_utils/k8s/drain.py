# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drain nodes the careful way.

1. Cordon each node and mark it as ours (only nodes we cordoned are ever uncordoned).
2. Classify its pods: DaemonSet and mirror pods stay, finished pods are ignored, bare pods
   (no controller) stop the drain unless allowed, since nothing would recreate them.
3. Refuse before touching any pod if a PodDisruptionBudget can never allow an eviction.
4. Evict every pod through the Eviction API; HTTP 429 (budget says not now) is retried with
   backoff, all inside one overall deadline rather than aborting on the first refusal.
5. Succeed only when the evicted pods are gone and each owner has its desired number of
   Ready pods on other nodes.

With ``steer_to_version`` the other schedulable nodes not yet at that version are cordoned while
the pods are evicted (when the nodes at the version accept and fit them all), so a pod moves once,
onto a node already at the target version, and are uncordoned when the drain ends either way.

On failure the nodes this call cordoned are uncordoned (unless asked not to).

A drain that carries on one a killed run began is given that attempt's moves (``earlier_moves``): their pods are
not evicted again, but their owners' replacements are waited for, so those moves get their Ready time too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import capacity
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import eviction_sim
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import DeadlineExceeded, backoff_delays

ApiError = client.K8sApiError


#: Node phase annotation of a node cordoned only while another node drains (see Drainer._steer).
STEERING = "steering"
#: The label LKE puts on its pools' Nodes.
POOL_LABEL = "lke.linode.com/pool-id"


def at_version(kubelet, minor):
    """Whether kubelet version ``v1.35.2`` is at minor ``1.35``."""
    version = str(kubelet or "").lstrip("v")
    minor = str(minor or "").lstrip("v")
    return bool(minor) and (version == minor or version.startswith(minor + "."))


class DrainError(client.K8sError):
    """The drain could not finish; ``details`` carries what was done so far."""


class DrainBlocked(DrainError):
    """A PodDisruptionBudget or a bare pod makes the drain impossible as asked."""


def classify(pods, allow_bare=False):
    """Split pods into (to_evict, skipped) where skipped is a list of (key, reason)."""
    evict, skipped = [], []
    for pod in pods:
        if objects.is_daemonset_pod(pod):
            skipped.append((objects.pod_key(pod), "DaemonSet pod"))
        elif objects.is_mirror_pod(pod):
            skipped.append((objects.pod_key(pod), "mirror (static) pod"))
        elif objects.is_finished(pod):
            skipped.append((objects.pod_key(pod), "finished"))
        elif pod["metadata"].get("deletionTimestamp"):
            skipped.append((objects.pod_key(pod), "already terminating"))
        else:  # bare pods too: blockers() stops the drain for them unless allowed
            evict.append(pod)
    return evict, skipped


def blockers(pods, pdbs, allow_bare=False):
    """Reasons the drain can never finish, found before any pod is touched."""
    found = []
    for pod in pods:
        if objects.controller_of(pod) is None and not allow_bare:
            found.append("pod %s has no controller, so nothing would recreate it after eviction "
                         "(set allow_bare_pods to evict it anyway)" % objects.pod_key(pod))
        for pdb in objects.pdbs_for_pod(pod, pdbs):
            if objects.pdb_never_allows(pdb):
                status = pdb.get("status") or {}
                found.append("PodDisruptionBudget %s allows 0 disruptions (desiredHealthy %s of %s pods) and "
                             "protects pod %s; raise its maxUnavailable/lower minAvailable or scale the workload "
                             "up before the upgrade" % (objects.pdb_name(pdb), status.get("desiredHealthy"),
                                                        status.get("expectedPods"), objects.pod_key(pod)))
    return sorted(set(found))


class Drainer(object):
    """Drain a set of nodes under one deadline; ``progress(msg)`` receives status lines."""

    def __init__(self, kube, deadline, owner, allow_bare=False, grace_period=None, restore_on_failure=True,
                 poll=1.0, progress=None, wall_clock=None, steer_to_version=None, earlier_moves=None, on_move=None):
        self.kube = kube
        self.deadline = deadline
        self.owner = owner
        self.allow_bare = allow_bare
        self.grace_period = grace_period
        self.restore_on_failure = restore_on_failure
        self.poll = poll
        self.progress = progress or (lambda msg: None)
        self.wall_clock = wall_clock or time.time
        self.steer_to_version = steer_to_version
        self._next_note = 0.0
        # moves: one per evicted pod, {pod, node, owner, evicted_at, replicas, ready_at, seconds}; ready_at is when
        # its owner had every desired pod Ready again elsewhere (seconds = ready_at - evicted_at: for a
        # single-replica workload, its downtime)
        self.result = {"cordoned": [], "evicted": [], "left_alone": [], "refusals": 0, "blocked": [],
                       "uncordoned": [], "replacements": {}, "moves": []}
        # moves an earlier, killed attempt at the same drain made (from the run's journal): their pods are gone or
        # terminating, so this drain does not evict them again, but it waits for their owners' replacements and
        # stamps when they were Ready (one whose pod is still there, its eviction cut off by the kill, is dropped when
        # this drain evicts that pod); on_move(moves) hears of each eviction just before it is asked (the module
        # journals it at once), with the moves so far and that one
        self.earlier_moves = [dict(m) for m in earlier_moves or []]
        self.on_move = on_move

    # -- planning (also the check mode) --
    def plan(self, names):
        existing = set(n["metadata"]["name"] for n in self.kube.nodes())
        missing = [n for n in names if n not in existing]
        if missing:
            raise DrainError("node(s) %s do not exist; give names from `kubectl get nodes`" % ", ".join(missing))
        if len(names) > 2:  # one list beats a request per node on big batches and plans
            wanted = set(names)
            pods = [p for p in self.kube.pods() if (p.get("spec") or {}).get("nodeName") in wanted]
        else:
            pods = [p for name in names for p in self.kube.pods(node_name=name)]
        evict, skipped = classify(pods, self.allow_bare)
        return evict, skipped, blockers(evict, self.kube.pdbs(), self.allow_bare)

    def dry_run(self, names):
        """Server-side dry-run evictions: what would be evicted and what would be refused now."""
        evict, skipped, blocked = self.plan(names)
        would_block = list(blocked)
        for pod in evict:
            meta = pod["metadata"]
            if any(objects.pod_key(pod) in b for b in blocked):
                continue  # already explained by its budget
            try:
                self.kube.evict(meta["namespace"], meta["name"], dry_run=True)
            except ApiError as err:
                if err.status == 429:
                    would_block.append("eviction of %s refused now: %s" % (objects.pod_key(pod), err))
                elif err.status != 404:
                    would_block.append("eviction of %s failed: %s" % (objects.pod_key(pod), err))
        self.result.update(evicted=[objects.pod_key(p) for p in evict], left_alone=["%s (%s)" % s for s in skipped],
                           blocked=sorted(set(would_block)))
        return self.result

    # -- the real thing --
    def drain(self, names):
        try:
            for name in names:
                if objects.cordon(self.kube, name, self.owner):
                    self.result["cordoned"].append(name)
                    self.progress("cordoned %s" % name)
            evict, skipped, blocked = self.plan(names)
            self.result["left_alone"] = ["%s (%s)" % s for s in skipped]
            if blocked:
                self.result["blocked"] = blocked
                raise DrainBlocked("cannot drain %s: %s" % (", ".join(names), "; ".join(blocked)))
            for name in names:
                objects.set_phase(self.kube, name, "draining")
            steered = self._steer(names, evict)
            try:
                owners = self._evict_all(evict)
                for move in self.earlier_moves:
                    if move.get("ready_at") is None and move.get("owner") and move["owner"].count("/") == 2:
                        owners.setdefault(tuple(move["owner"].split("/")), None)
                self._wait_gone(evict, names)
                self._wait_replacements(owners, names)
            finally:
                self._unsteer(steered)
            for name in names:
                objects.set_phase(self.kube, name, "drained")
        except Exception as err:
            if self.restore_on_failure:
                self._restore(names)
            if isinstance(err, DrainError):
                err.details.update(self.result)
                raise
            if isinstance(err, DeadlineExceeded):
                raise DrainError("drain of %s did not finish: %s" % (", ".join(names), err), **self.result)
            if isinstance(err, client.K8sError):
                raise DrainError("drain of %s failed: %s" % (", ".join(names), err), **self.result)
            raise
        return self.result

    def drain_or_quarantine(self, names):
        """Drain ``names``; a node that still hosts pods when the drain fails is quarantined instead.

        The other nodes of the batch count as drained (their pods are gone). When no node has a
        pod left the failure is not a node's (replacements not Ready, say): restore and raise.
        """
        restore, self.restore_on_failure = self.restore_on_failure, False
        try:
            return self.drain(names)
        except DrainError as err:
            stuck = {}
            for name in names:
                evict = self.plan([name])[0]
                if evict:
                    stuck[name] = [objects.pod_key(p) for p in evict]
            if not stuck:
                if restore:
                    self._restore(names)
                err.details.update(self.result)
                raise
            self.result["quarantined"] = []
            for name in names:
                if name in stuck:
                    objects.quarantine(self.kube, name, self.owner, str(err))
                    self.result["quarantined"].append({"node_name": name, "pods": stuck[name], "reason": str(err)})
                    self.progress("quarantined %s: %s still on it" % (name, ", ".join(stuck[name])))
                else:
                    objects.set_phase(self.kube, name, "drained")
            return self.result
        finally:
            self.restore_on_failure = restore

    # -- placement: evicted pods land once, on nodes already at the target version --
    def _steer(self, names, evict):
        """Cordon, for this drain only, the other schedulable pool nodes not yet at ``steer_to_version``, so evicted pods
        land on nodes at the target version and do not move again when their node's turn comes. Only when those
        nodes accept every evicted pod (placement rules) and have room for all of them; else nothing is steered.
        Returns the nodes to uncordon afterwards, including ones a killed drain left steered."""
        if not self.steer_to_version:
            return []
        drained = set(names)
        nodes = self.kube.nodes()
        leftover = [n["metadata"]["name"] for n in nodes if n["metadata"]["name"] not in drained
                    and objects.annotations(n).get(objects.PHASE) == STEERING and objects.cordoned_by(n) == self.owner]
        movable = [p for p in evict if objects.controller_of(p) is not None]
        up = [n for n in nodes if n["metadata"]["name"] not in drained and objects.node_ready(n)
              and not objects.node_unschedulable(n)]
        target = [n for n in up if at_version(objects.kubelet_version(n), self.steer_to_version)]
        # only pool nodes a rollout recycles later make a pod move twice; any other node is left alone
        old = [n["metadata"]["name"] for n in up if n not in target
               and POOL_LABEL in ((n.get("metadata") or {}).get("labels") or {})]
        if not movable or not target or not old:
            return leftover
        for pod in movable:
            if not any(eviction_sim.placement_problem(pod, n) is None for n in target):
                self.progress("not steering: %s cannot run on the nodes at %s" % (objects.pod_key(pod), self.steer_to_version))
                return leftover
        names_at_target = set(n["metadata"]["name"] for n in target)
        by_node = {}
        for pod in self.kube.pods():
            if pod["spec"].get("nodeName") in names_at_target:
                by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)
        free = dict((n["metadata"]["name"], capacity.node_free(n, by_node.get(n["metadata"]["name"], []))) for n in target)
        ok, unplaced = capacity.fits([dict(capacity.pod_requests(p), name=objects.pod_key(p)) for p in movable], free)
        if not ok:
            self.progress("not steering: no room on the nodes at %s for %s" % (self.steer_to_version, ", ".join(unplaced)))
            return leftover
        steered = []
        for name in old:
            if objects.cordon(self.kube, name, self.owner):
                objects.set_phase(self.kube, name, STEERING)
                steered.append(name)
        if steered:
            self.result["steered_away_from"] = list(steered)
            self.progress("cordoned %s while %s drains, so its pods land on nodes at %s" % (
                ", ".join(steered), ", ".join(names), self.steer_to_version))
        return leftover + steered

    def _unsteer(self, steered):
        for name in steered:
            try:
                objects.uncordon(self.kube, name)
            except client.K8sError:
                pass  # best effort; the run's restore uncordons every node it cordoned

    def _restore(self, names):
        for name in names:
            try:
                if objects.uncordon(self.kube, name):
                    self.result["uncordoned"].append(name)
            except client.K8sError:
                pass  # best effort; the run's rescue uncordons again

    def _evict_all(self, pods):
        owners = {}
        pending = list(pods)
        delays = backoff_delays(0.5, 1.5, 5.0)
        while pending:
            refused = []
            for pod in pending:
                meta = pod["metadata"]
                key = objects.pod_key(pod)
                ref = objects.controller_of(pod)
                move = {"pod": key, "node": pod["spec"].get("nodeName"),
                        "owner": "%s/%s/%s" % (meta["namespace"], ref["kind"], ref["name"]) if ref else None,
                        "evicted_at": round(self.wall_clock(), 3), "replicas": None, "ready_at": None, "seconds": None}
                # a killed attempt's record of this pod was written before its eviction, which did not happen then
                self.earlier_moves = [m for m in self.earlier_moves if m.get("pod") != key]
                if self.on_move is not None:
                    # heard before the eviction, so a kill right after it cannot lose the move
                    self.on_move(self.result["moves"] + [move])
                try:
                    self.kube.evict(meta["namespace"], meta["name"], grace_period=self.grace_period)
                except ApiError as err:
                    if err.status == 404:
                        continue  # already gone
                    if err.status == 429:
                        self.result["refusals"] += 1
                        refused.append(pod)
                        continue
                    raise DrainError("eviction of %s failed: %s" % (key, err))
                self.result["evicted"].append(key)
                self.result["moves"].append(move)
                if ref:
                    owners[(meta["namespace"], ref["kind"], ref["name"])] = ref
            pending = refused
            if pending:
                delay = min(next(delays), self.deadline.remaining())
                if delay <= 0.05:
                    raise DrainError("evictions still refused by a PodDisruptionBudget after %.0f s: %s"
                                     % (self.deadline.elapsed(), ", ".join(objects.pod_key(p) for p in pending)))
                self.progress("%d eviction(s) refused by a disruption budget, retrying in %.1f s (%.0f s left)"
                              % (len(pending), delay, self.deadline.remaining()))
                self.deadline.sleep(delay)
        return owners

    def _wait_gone(self, pods, names):
        uids = set(p["metadata"]["uid"] for p in pods)
        while True:
            left = [p for n in names for p in self.kube.pods(node_name=n) if p["metadata"]["uid"] in uids]
            if not left:
                return
            if self.deadline.expired():
                raise DrainError("evicted pods still on %s after %.0f s: %s"
                                 % (", ".join(names), self.deadline.seconds, ", ".join(objects.pod_key(p) for p in left)))
            self.deadline.sleep(self.poll)

    def _owner_ready(self, namespace, kind, name, drained):
        obj = self.kube.owner(namespace, kind, name)
        if obj is None:
            return True, 0, 0  # owner gone (scaled away/deleted): nothing to replace
        desired = int((obj.get("spec") or {}).get("replicas", 1) or 0)
        uid = obj["metadata"]["uid"]
        ready = []
        for pod in self.kube.pods(namespace=namespace):
            ref = objects.controller_of(pod)
            if ref and ref.get("uid") == uid and objects.pod_ready(pod) and pod["spec"].get("nodeName") not in drained:
                ready.append(pod)
        if len(ready) >= desired:
            self._note_ready("%s/%s/%s" % (namespace, kind, name), desired, ready)
        return len(ready) >= desired, len(ready), desired

    def _note_ready(self, owner, desired, ready_pods):
        """Stamp the owner's moves with when its replacements were Ready (their Ready condition's time, else now)."""
        moves = [m for m in self.earlier_moves + self.result["moves"] if m.get("owner") == owner and m.get("ready_at") is None]
        if not moves:
            return
        first = min(m["evicted_at"] for m in moves)
        since = [t for t in (objects.ready_since(p) for p in ready_pods) if t is not None and t >= first - 1.0]
        ready_at = max(since) if since else self.wall_clock()
        for move in moves:
            move.update(replicas=desired, ready_at=round(max(ready_at, move["evicted_at"]), 3),
                        seconds=round(max(ready_at, move["evicted_at"]) - move["evicted_at"], 3))

    def _wait_replacements(self, owners, names):
        drained = set(names)
        waiting = dict(owners)
        while waiting:
            for key in list(waiting):
                namespace, kind, name = key
                if kind not in ("ReplicaSet", "StatefulSet"):
                    del waiting[key]  # Jobs and custom controllers: gone is all we can check
                    continue
                ok, ready, desired = self._owner_ready(namespace, kind, name, drained)
                self.result["replacements"]["%s/%s/%s" % (namespace, kind, name)] = "%d/%d ready" % (ready, desired)
                if ok:
                    del waiting[key]
            if not waiting:
                return
            if self.deadline.expired():
                raise DrainError("replacement pods not Ready elsewhere after %.0f s: %s" % (
                    self.deadline.seconds, ", ".join("%s %s/%s (%s)" % (k[1], k[0], k[2], self.result["replacements"].get(
                        "%s/%s/%s" % k)) for k in waiting)))
            if self.deadline.elapsed() >= self._next_note:
                self._next_note = self.deadline.elapsed() + 5.0
                self.progress("waiting for Ready replacements of %s (%s)" % (
                    ", ".join("%s/%s" % (k[0], k[2]) for k in waiting),
                    ", ".join(self.result["replacements"].get("%s/%s/%s" % k, "?") for k in waiting)))
            self.deadline.sleep(self.poll)
