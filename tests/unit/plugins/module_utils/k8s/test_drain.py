"""k8s/drain.py: the Drainer against a fake Kubernetes API (the boundary), on a fake clock.

The fake keeps Nodes, Pods, PDBs and owners as the API's JSON, answers evictions from a script
(429 from a budget, other errors, or success: the pod leaves its node), and lets a test make
replacements appear when time passes, so the waits are exercised without sleeping.
"""

import types

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError, K8sError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import DrainBlocked, DrainError, Drainer, blockers, classify

OWNER = "run-42"


class Clock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.on_tick = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        for hook in list(self.on_tick):
            hook(self.now)


def api_error(status, reason="refused"):
    return K8sApiError("Kubernetes API POST eviction: HTTP %d: %s" % (status, reason),
                       types.SimpleNamespace(status=status, reason=reason, body=None, headers=None))


def node(name, unschedulable=False, notes=None):
    return {"metadata": {"name": name, "annotations": dict(notes or {})},
            "spec": {"unschedulable": True} if unschedulable else {},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name, node_name, owner=None, namespace="app", labels=None, ready=True, kind="ReplicaSet", **extra):
    meta = {"name": name, "namespace": namespace, "uid": "uid-" + name, "labels": dict(labels or {"app": "web"})}
    if owner:
        meta["ownerReferences"] = [{"kind": kind, "name": owner, "uid": "uid-" + owner, "controller": True}]
    meta.update(extra.pop("meta", {}))
    out = {"metadata": meta, "spec": {"nodeName": node_name},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
    out["status"].update(extra.pop("status", {}))
    return out


def pdb(name, allowed, desired, expected, namespace="app", labels=None):
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": dict(labels or {"app": "web"})}},
            "status": {"disruptionsAllowed": allowed, "desiredHealthy": desired, "expectedPods": expected}}


class FakeKube(object):
    """The part of client.Kube the Drainer uses, over in-memory objects."""

    def __init__(self, clock, nodes, pods, pdbs=None, owners=None):
        self.clock = clock
        self.nodes_ = dict((n["metadata"]["name"], n) for n in nodes)
        self.pods_ = list(pods)
        self.pdbs_ = list(pdbs or [])
        self.owners_ = dict(owners or {})
        self.script = {}           # "ns/name" -> list of statuses to answer before succeeding
        self.keep_after_evict = set()  # pods that stay on their node after a successful eviction
        self.calls = []

    # reads
    def nodes(self, label_selector=None):
        self.calls.append(("nodes",))
        return list(self.nodes_.values())

    def node(self, name):
        return self.nodes_.get(name)

    def pods(self, node_name=None, namespace=None):
        self.calls.append(("pods", node_name, namespace))
        return [p for p in self.pods_ if (node_name is None or p["spec"].get("nodeName") == node_name)
                and (namespace is None or p["metadata"]["namespace"] == namespace)]

    def pdbs(self, namespace=None):
        return list(self.pdbs_)

    def owner(self, namespace, kind, name):
        return self.owners_.get((namespace, kind, name))

    # writes
    def patch_node(self, name, patch):
        self.calls.append(("patch_node", name, patch))
        target = self.nodes_[name]
        for section in ("spec", "metadata"):
            for key, value in (patch.get(section) or {}).items():
                if isinstance(value, dict):
                    bucket = target[section].setdefault(key, {})
                    for inner, inner_value in value.items():
                        if inner_value is None:
                            bucket.pop(inner, None)
                        else:
                            bucket[inner] = inner_value
                elif value is None:
                    target[section].pop(key, None)
                else:
                    target[section][key] = value

    def evict(self, namespace, name, dry_run=False, grace_period=None):
        key = "%s/%s" % (namespace, name)
        self.calls.append(("evict", key, dry_run, grace_period))
        answers = self.script.get(key)
        if answers:
            status = answers.pop(0)
            if status == 404:  # the pod went away by itself before its eviction
                self.pods_ = [p for p in self.pods_ if objects.pod_key(p) != key]
            if status != "ok":
                raise api_error(status)
        if not dry_run and key not in self.keep_after_evict:
            self.pods_ = [p for p in self.pods_ if objects.pod_key(p) != key]
        return {}

    def evictions(self, dry_run=False):
        return [c[1] for c in self.calls if c[0] == "evict" and c[2] == dry_run]


def replicaset(name, replicas, namespace="app"):
    return {(namespace, "ReplicaSet", name): {"metadata": {"name": name, "namespace": namespace, "uid": "uid-" + name},
                                              "spec": {"replicas": replicas}}}


@pytest.fixture
def clock():
    return Clock()


def make(clock, kube, seconds=60.0, **kwargs):
    lines = []
    drainer = Drainer(kube, Deadline(seconds, clock=clock, sleep=clock.sleep), OWNER, poll=1.0,
                      progress=lines.append, **kwargs)
    return drainer, lines


def cluster(clock, pods, pdbs=None, owners=None, nodes=("n1", "n2")):
    return FakeKube(clock, [node(n) for n in nodes], pods, pdbs, owners)


def add_replacement_later(clock, kube, at, name, node_name="n2", owner="web-rs", ready=True):
    def hook(now):
        if now >= at and not any(p["metadata"]["name"] == name for p in kube.pods_):
            kube.pods_.append(pod(name, node_name, owner, ready=ready))
    clock.on_tick.append(hook)


# ---- the happy path -----------------------------------------------------------------------------

def test_drain_cordons_marks_evicts_and_waits_for_ready_replacements(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs"),
                           pod("agent", "n1", "agent-ds", kind="DaemonSet"),
                           pod("static", "n1", meta={"annotations": {"kubernetes.io/config.mirror": "x"}}),
                           pod("job-done", "n1", "job", kind="Job", status={"phase": "Succeeded"})],
                   owners=replicaset("web-rs", 2))
    add_replacement_later(clock, kube, 1003.0, "web-3")
    drainer, lines = make(clock, kube)

    result = drainer.drain(["n1"])

    n1 = kube.nodes_["n1"]
    assert n1["spec"]["unschedulable"] is True
    assert objects.cordoned_by(n1) == OWNER
    assert objects.annotations(n1)[objects.PHASE] == "drained"
    assert kube.evictions() == ["app/web-1"]  # DaemonSet, mirror and finished pods are left alone
    assert result["cordoned"] == ["n1"] and result["evicted"] == ["app/web-1"]
    assert sorted(result["left_alone"]) == ["app/agent (DaemonSet pod)", "app/job-done (finished)",
                                            "app/static (mirror (static) pod)"]
    assert result["replacements"] == {"app/ReplicaSet/web-rs": "2/2 ready"}
    assert result["refusals"] == 0 and result["uncordoned"] == []
    assert clock.now >= 1003.0  # it waited for the replacement, not only for the pod to go
    assert "cordoned n1" in lines
    assert any("waiting for Ready replacements of app/web-rs" in line for line in lines)


def test_phases_are_written_in_order_after_the_cordon(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")], owners=replicaset("web-rs", 1))
    drainer, dummy = make(clock, kube)
    drainer.drain(["n1"])
    patches = [c[2] for c in kube.calls if c[0] == "patch_node"]
    assert patches[0]["spec"] == {"unschedulable": True}
    phases = [p["metadata"]["annotations"].get(objects.PHASE) for p in patches[1:]]
    assert phases == ["draining", "drained"]
    first_eviction = [i for i, c in enumerate(kube.calls) if c[0] == "evict"][0]
    draining = [i for i, c in enumerate(kube.calls) if c[0] == "patch_node"
                and c[2]["metadata"]["annotations"].get(objects.PHASE) == "draining"][0]
    assert draining < first_eviction


def test_grace_period_is_passed_to_each_eviction(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n1", "web-rs")], owners=replicaset("web-rs", 0))
    drainer, dummy = make(clock, kube, grace_period=7)
    drainer.drain(["n1"])
    assert sorted((c[1], c[3]) for c in kube.calls if c[0] == "evict") == [("app/web-1", 7), ("app/web-2", 7)]


def test_a_node_someone_else_cordoned_is_drained_but_not_claimed(clock):
    kube = FakeKube(clock, [node("n1", unschedulable=True), node("n2")], [pod("web-1", "n1", "web-rs")],
                    owners=replicaset("web-rs", 0))
    drainer, dummy = make(clock, kube)
    result = drainer.drain(["n1"])
    assert result["cordoned"] == []
    assert objects.cordoned_by(kube.nodes_["n1"]) is None
    assert kube.evictions() == ["app/web-1"]


# ---- 429 from a PodDisruptionBudget -------------------------------------------------------------

def test_429_is_retried_with_backoff_until_the_budget_allows(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")],
                   pdbs=[pdb("web", 0, 1, 2)], owners=replicaset("web-rs", 2))
    kube.script["app/web-1"] = [429, 429, 429, "ok"]
    add_replacement_later(clock, kube, 0, "web-3")  # appears on the first tick after the eviction
    drainer, lines = make(clock, kube)

    result = drainer.drain(["n1"])

    assert result["refusals"] == 3
    assert kube.evictions() == ["app/web-1"] * 4
    assert result["evicted"] == ["app/web-1"]
    assert clock.sleeps[:3] == [0.5, 0.75, 1.125]  # backoff 0.5 x1.5, not a fixed retry
    assert sum("refused by a disruption budget, retrying" in line for line in lines) == 3


def test_429_forever_stops_at_the_one_deadline_and_uncordons(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")],
                   pdbs=[pdb("web", 0, 1, 2)], owners=replicaset("web-rs", 2))
    kube.script["app/web-1"] = [429] * 1000
    drainer, dummy = make(clock, kube, seconds=20.0)

    with pytest.raises(DrainError, match="still refused by a PodDisruptionBudget after 20 s: app/web-1") as info:
        drainer.drain(["n1"])

    assert clock.now - 1000.0 <= 20.0 + 1e-6  # every retry fits inside the one deadline
    assert sum(clock.sleeps) <= 20.0 + 1e-6
    assert info.value.details["refusals"] == len(kube.evictions()) > 3
    assert info.value.details["uncordoned"] == ["n1"]
    assert "unschedulable" not in kube.nodes_["n1"]["spec"]
    assert objects.cordoned_by(kube.nodes_["n1"]) is None


def test_a_budget_that_can_never_allow_refuses_before_any_eviction(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")],
                   pdbs=[pdb("web-strict", 0, 2, 2)], owners=replicaset("web-rs", 2))
    drainer, dummy = make(clock, kube)

    with pytest.raises(DrainBlocked) as info:
        drainer.drain(["n1"])

    text = str(info.value)
    assert text.startswith("cannot drain n1: PodDisruptionBudget app/web-strict allows 0 disruptions")
    assert "protects pod app/web-1" in text and "maxUnavailable" in text
    assert kube.evictions() == []
    assert info.value.details["blocked"] and info.value.details["uncordoned"] == ["n1"]
    assert "unschedulable" not in kube.nodes_["n1"]["spec"]


def test_a_budget_at_zero_only_for_now_is_waited_for_not_refused(clock):
    # desiredHealthy 2 of 3 expected: one pod is unhealthy now; the budget opens when it recovers
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")],
                   pdbs=[pdb("web", 0, 2, 3)], owners=replicaset("web-rs", 1))
    kube.script["app/web-1"] = [429, "ok"]
    drainer, dummy = make(clock, kube)
    result = drainer.drain(["n1"])
    assert result["refusals"] == 1 and result["blocked"] == []


# ---- what it refuses -----------------------------------------------------------------------------

def test_a_bare_pod_blocks_the_drain_unless_allowed(clock):
    kube = cluster(clock, [pod("scratch", "n1")])
    drainer, dummy = make(clock, kube)
    with pytest.raises(DrainBlocked, match="pod app/scratch has no controller.*allow_bare_pods"):
        drainer.drain(["n1"])
    assert kube.evictions() == []

    kube = cluster(clock, [pod("scratch", "n1")])
    drainer, dummy = make(clock, kube, allow_bare=True)
    result = drainer.drain(["n1"])
    assert kube.evictions() == ["app/scratch"] and result["replacements"] == {}


def test_a_node_that_does_not_exist_is_named(clock):
    kube = cluster(clock, [])
    drainer, dummy = make(clock, kube)
    with pytest.raises(DrainError, match="node\\(s\\) ghost-1, ghost-2 do not exist; give names from `kubectl get nodes`"):
        drainer.plan(["n1", "ghost-1", "ghost-2"])


def test_drain_of_a_missing_node_changes_nothing(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")])
    drainer, dummy = make(clock, kube)
    with pytest.raises(K8sError, match="ghost"):
        drainer.drain(["ghost"])
    assert not [c for c in kube.calls if c[0] in ("patch_node", "evict")]


def test_an_eviction_error_other_than_429_fails_naming_the_pod_and_restores(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    kube.script["app/web-1"] = [500]
    drainer, dummy = make(clock, kube)
    with pytest.raises(DrainError, match="eviction of app/web-1 failed: .*HTTP 500") as info:
        drainer.drain(["n1"])
    assert info.value.details["uncordoned"] == ["n1"]
    assert len(kube.evictions()) == 1  # not retried


def test_restore_on_failure_false_leaves_the_node_cordoned(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    kube.script["app/web-1"] = [500]
    drainer, dummy = make(clock, kube, restore_on_failure=False)
    with pytest.raises(DrainError):
        drainer.drain(["n1"])
    assert kube.nodes_["n1"]["spec"]["unschedulable"] is True
    assert objects.cordoned_by(kube.nodes_["n1"]) == OWNER


def test_restore_never_uncordons_a_node_it_did_not_cordon(clock):
    kube = FakeKube(clock, [node("n1", unschedulable=True), node("n2")], [pod("web-1", "n1", "web-rs")],
                    owners=replicaset("web-rs", 1))
    kube.script["app/web-1"] = [500]
    drainer, dummy = make(clock, kube)
    with pytest.raises(DrainError) as info:
        drainer.drain(["n1"])
    assert info.value.details["uncordoned"] == []
    assert kube.nodes_["n1"]["spec"]["unschedulable"] is True


def test_404_during_eviction_is_skipped(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n1", "web-rs")], owners=replicaset("web-rs", 0))
    kube.script["app/web-1"] = [404]
    drainer, dummy = make(clock, kube)
    result = drainer.drain(["n1"])
    assert result["evicted"] == ["app/web-2"]


# ---- the waits -------------------------------------------------------------------------------------

def test_evicted_pods_that_never_leave_fail_at_the_deadline(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 0))
    kube.keep_after_evict.add("app/web-1")
    drainer, dummy = make(clock, kube, seconds=5.0)
    with pytest.raises(DrainError, match="evicted pods still on n1 after 5 s: app/web-1") as info:
        drainer.drain(["n1"])
    assert info.value.details["evicted"] == ["app/web-1"]
    assert clock.now - 1000.0 <= 5.0 + 1e-6


def test_replacements_that_never_become_ready_fail_naming_the_owner_and_count(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")], owners=replicaset("web-rs", 2))
    add_replacement_later(clock, kube, 0, "web-3", ready=False)
    drainer, dummy = make(clock, kube, seconds=10.0)
    with pytest.raises(DrainError, match="replacement pods not Ready elsewhere after 10 s: ReplicaSet app/web-rs "
                                         "\\(1/2 ready\\)") as info:
        drainer.drain(["n1"])
    assert info.value.details["uncordoned"] == ["n1"]
    assert objects.annotations(kube.nodes_["n1"]).get(objects.PHASE) is None  # restore drops our phase too


def test_a_replacement_on_a_drained_node_does_not_count(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")], owners=replicaset("web-rs", 2),
                   nodes=("n1", "n2", "n3"))
    add_replacement_later(clock, kube, 0, "web-3", node_name="n2")  # n2 is drained in the same call
    drainer, dummy = make(clock, kube, seconds=8.0)
    with pytest.raises(DrainError, match="0/2 ready"):
        drainer.drain(["n1", "n2"])


def test_owners_that_are_gone_or_not_replica_controllers_are_not_waited_for(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("batch-1", "n1", "batch", kind="Job")])
    drainer, dummy = make(clock, kube, seconds=5.0)
    result = drainer.drain(["n1"])  # web-rs has no owner object (deleted): nothing to replace
    assert sorted(result["evicted"]) == ["app/batch-1", "app/web-1"]
    assert clock.sleeps == []
    assert "app/Job/batch" not in result["replacements"]


# ---- planning and the check mode -------------------------------------------------------------------

def test_dry_run_asks_the_server_and_changes_nothing(clock):
    db = pod("db-1", "n1", "db-ss", kind="StatefulSet", labels={"app": "db"})
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), db, pod("other", "n1", "x-rs", labels={"app": "x"})],
                   pdbs=[pdb("web", 0, 1, 2), pdb("db", 0, 1, 1, labels={"app": "db"})])
    kube.script["app/web-1"] = [429]
    kube.script["app/other"] = [403]
    drainer, dummy = make(clock, kube)

    result = drainer.dry_run(["n1"])

    assert not [c for c in kube.calls if c[0] == "patch_node"]
    assert kube.evictions() == [] and sorted(kube.evictions(dry_run=True)) == ["app/other", "app/web-1"]
    assert len(kube.pods_) == 3
    blocked = result["blocked"]
    assert any(b.startswith("PodDisruptionBudget app/db allows 0 disruptions") for b in blocked)
    assert any(b.startswith("eviction of app/web-1 refused now:") for b in blocked)
    assert any(b.startswith("eviction of app/other failed:") and "403" in b for b in blocked)
    assert sorted(result["evicted"]) == ["app/db-1", "app/other", "app/web-1"]


def test_plan_lists_pods_once_for_a_big_batch_and_per_node_for_small_ones(clock):
    kube = cluster(clock, [pod("a", "n1", "rs"), pod("b", "n2", "rs"), pod("c", "n3", "rs"), pod("d", "n4", "rs")],
                   nodes=("n1", "n2", "n3", "n4"))
    drainer, dummy = make(clock, kube)
    evict, dummy_skipped, dummy_blocked = drainer.plan(["n1", "n2", "n3"])
    assert [c for c in kube.calls if c[0] == "pods"] == [("pods", None, None)]
    assert sorted(p["metadata"]["name"] for p in evict) == ["a", "b", "c"]
    kube.calls[:] = []
    drainer.plan(["n1", "n2"])
    assert [c for c in kube.calls if c[0] == "pods"] == [("pods", "n1", None), ("pods", "n2", None)]


def test_terminating_pods_are_left_alone(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs", meta={"deletionTimestamp": "2026-01-01T00:00:00Z"})])
    drainer, dummy = make(clock, kube)
    result = drainer.drain(["n1"])
    assert kube.evictions() == [] and result["left_alone"] == ["app/web-1 (already terminating)"]


# ---- classify and blockers, the plan before any change ---------------------------------------

def plain_pod(name, ns="app", labels=None, owner_kind="ReplicaSet", phase="Running", annotations=None):
    meta = {"name": name, "namespace": ns, "uid": name + "-uid", "labels": labels or {}, "annotations": annotations or {}}
    if owner_kind:
        meta["ownerReferences"] = [{"kind": owner_kind, "name": "owner", "controller": True, "uid": "o"}]
    return {"metadata": meta, "spec": {"nodeName": "n1"}, "status": {"phase": phase}}


def plain_pdb(name, ns, match, allowed, expected, desired):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"matchLabels": match}},
            "status": {"disruptionsAllowed": allowed, "expectedPods": expected, "desiredHealthy": desired,
                       "currentHealthy": expected}}


def test_classify_skips_daemonsets_mirror_finished():
    pods = [plain_pod("ds", owner_kind="DaemonSet"), plain_pod("mirror", owner_kind=None, annotations={"kubernetes.io/config.mirror": "x"}),
            plain_pod("done", phase="Succeeded"), plain_pod("web")]
    evict, skipped = classify(pods)
    assert [objects.pod_key(p) for p in evict] == ["app/web"]
    assert dict(skipped) == {"app/ds": "DaemonSet pod", "app/mirror": "mirror (static) pod", "app/done": "finished"}


def test_blockers_bare_pod_and_zero_pdb():
    pods = [plain_pod("bare", owner_kind=None), plain_pod("legacy-1", ns="blocked", labels={"app": "legacy"}),
            plain_pod("api-1", labels={"app": "api"})]
    pdbs = [plain_pdb("legacy", "blocked", {"app": "legacy"}, 0, 2, 2), plain_pdb("api", "app", {"app": "api"}, 1, 3, 2)]
    found = blockers(pods, pdbs)
    assert len(found) == 2
    assert any("app/bare has no controller" in f for f in found)
    assert any("blocked/legacy allows 0 disruptions" in f for f in found)
    assert blockers(pods, pdbs, allow_bare=True) == [f for f in found if "bare" not in f]


# ---- undrainable: quarantine --------------------------------------------------------------------
def test_quarantine_leaves_the_stuck_node_cordoned_labelled_and_unclaimed(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("web-2", "n2", "web-rs")],
                   pdbs=[pdb("web", 0, 1, 2)], owners=replicaset("web-rs", 2), nodes=("n1", "n2", "n3"))
    kube.script["app/web-1"] = [429] * 1000
    drainer, lines = make(clock, kube, seconds=20.0)

    result = drainer.drain_or_quarantine(["n1", "n3"])

    assert [q["node_name"] for q in result["quarantined"]] == ["n1"]
    assert result["quarantined"][0]["pods"] == ["app/web-1"]
    n1 = kube.nodes_["n1"]
    assert n1["spec"]["unschedulable"] is True
    assert objects.quarantined(n1) and objects.cordoned_by(n1) is None  # no restore uncordons it
    assert n1["metadata"]["annotations"][objects.QUARANTINED_BY] == OWNER
    # the batch's other node was drained (nothing on it) and stays cordoned for its recycle
    assert kube.nodes_["n3"]["spec"]["unschedulable"] is True
    assert kube.nodes_["n3"]["metadata"]["annotations"][objects.PHASE] == "drained"
    assert any("quarantined n1" in line for line in lines)


def test_quarantine_still_fails_when_no_pod_is_left_behind(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    drainer, dummy = make(clock, kube, seconds=10.0)  # the replacement never comes

    with pytest.raises(DrainError, match="replacement pods not Ready"):
        drainer.drain_or_quarantine(["n1"])
    assert "unschedulable" not in kube.nodes_["n1"]["spec"]  # restored as with undrainable: fail


# ---- moves: when each pod left and when its workload was whole again -----------------------------

def test_each_move_records_its_eviction_and_the_replacements_ready_time(clock):
    """The single-replica web: its downtime runs from the eviction to the replacement's Ready condition (the
    server's time, not when the drain polled); the 2-replica api keeps serving, its move is stamped all the same."""
    kube = cluster(clock, [pod("web-1", "n1", "web-rs"), pod("api-1", "n1", "api-rs", labels={"app": "api"}),
                           pod("api-2", "n2", "api-rs", labels={"app": "api"})],
                   owners={**replicaset("web-rs", 1), **replicaset("api-rs", 2)})
    add_replacement_later(clock, kube, 1004.0, "web-2")
    add_replacement_later(clock, kube, 1002.0, "api-3", owner="api-rs")

    def stamp(now):  # the kubelet reports Ready at 1003 (a whole second, as the API does)
        for p in kube.pods_:
            if p["metadata"]["name"] == "web-2":
                p["status"]["conditions"][0]["lastTransitionTime"] = "1970-01-01T00:16:43Z"
    clock.on_tick.append(stamp)
    drainer, dummy = make(clock, kube, wall_clock=clock)

    result = drainer.drain(["n1"])

    moves = dict((m["pod"], m) for m in result["moves"])
    assert sorted(moves) == ["app/api-1", "app/web-1"]
    web = moves["app/web-1"]
    assert (web["node"], web["owner"], web["replicas"], web["evicted_at"]) == ("n1", "app/ReplicaSet/web-rs", 1, 1000.0)
    assert web["ready_at"] == 1003.0 and web["seconds"] == 3.0
    api = moves["app/api-1"]
    assert api["replicas"] == 2 and api["ready_at"] >= 1002.0


def test_a_move_whose_replacement_never_comes_keeps_no_ready_time(clock):
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    drainer, dummy = make(clock, kube, seconds=5.0, wall_clock=clock)
    with pytest.raises(DrainError) as err:
        drainer.drain(["n1"])
    [move] = err.value.details["moves"]
    assert move["pod"] == "app/web-1" and move["ready_at"] is None and move["seconds"] is None


def test_a_drain_carrying_on_a_killed_one_waits_for_its_moves_and_stamps_them_without_evicting_again(clock):
    """A run killed mid-drain evicted web-1 (journalled) before its replacement was Ready; the re-run's drain finds
    web-1 terminating, evicts only api-1, waits for web's replacement too and stamps the killed attempt's move."""
    terminating = pod("web-1", "n1", "web-rs", meta={"deletionTimestamp": "2026-01-01T00:00:00Z"})
    kube = cluster(clock, [terminating, pod("api-1", "n1", "api-rs", labels={"app": "api"})],
                   owners={**replicaset("web-rs", 1), **replicaset("api-rs", 1)})
    add_replacement_later(clock, kube, 1001.0, "api-2", owner="api-rs")
    add_replacement_later(clock, kube, 1003.0, "web-2")

    def gone(now):  # the killed attempt's evicted pod finishes terminating
        if now >= 1002.0 and terminating in kube.pods_:
            kube.pods_.remove(terminating)
    clock.on_tick.append(gone)
    earlier = [{"pod": "app/web-1", "node": "n1", "owner": "app/ReplicaSet/web-rs", "evicted_at": 990.0,
                "replicas": None, "ready_at": None, "seconds": None}]
    heard = []
    drainer, dummy = make(clock, kube, wall_clock=clock, earlier_moves=earlier,
                          on_move=lambda moves: heard.append([m["pod"] for m in moves]))

    result = drainer.drain(["n1"])

    assert kube.evictions() == ["app/api-1"] and heard == [["app/api-1"]]
    assert [m["pod"] for m in result["moves"]] == ["app/api-1"]
    [web] = drainer.earlier_moves
    assert web["replicas"] == 1 and web["ready_at"] >= 1003.0 and web["seconds"] == web["ready_at"] - 990.0, web
    assert earlier[0]["ready_at"] is None  # the caller's list is not changed behind its back


def test_each_move_is_heard_before_its_eviction_and_a_cut_off_one_is_replaced_when_the_pod_is_evicted(clock):
    """The journal hears of a move before the eviction is asked, so a kill right after it cannot lose it. A killed
    attempt's move whose pod is still on the node (killed before the eviction was sent) did not happen: it is
    dropped when this drain evicts that pod, so the pod counts one move, not two."""
    kube = cluster(clock, [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    kube.script["app/web-1"] = [429]  # the first attempt is refused: heard, then not recorded as a move
    add_replacement_later(clock, kube, 1002.0, "web-2")
    earlier = [{"pod": "app/web-1", "node": "n1", "owner": "app/ReplicaSet/web-rs", "evicted_at": 990.0,
                "replicas": None, "ready_at": None, "seconds": None}]
    heard = []
    drainer, dummy = make(clock, kube, wall_clock=clock, earlier_moves=earlier,
                          on_move=lambda moves: heard.append([(m["pod"], m["evicted_at"]) for m in moves]))

    result = drainer.drain(["n1"])

    assert drainer.earlier_moves == [] and [m["pod"] for m in result["moves"]] == ["app/web-1"]
    assert len(heard) == 2 and heard[0] == [("app/web-1", 1000.0)] and heard[1][0][0] == "app/web-1"
    assert result["refusals"] == 1 and result["moves"][0]["evicted_at"] == heard[1][0][1]


# ---- placement: steer evicted pods onto nodes already at the target version ----------------------

def versioned(name, kubelet, cpu="4", pool="1"):
    out = node(name)
    if pool:
        out["metadata"]["labels"] = {"lke.linode.com/pool-id": pool}
    out["status"].update(nodeInfo={"kubeletVersion": kubelet}, allocatable={"cpu": cpu, "memory": "8Gi", "pods": "110"})
    return out


def test_steering_cordons_old_nodes_only_while_the_pods_move_and_puts_them_back(clock):
    kube = FakeKube(clock, [versioned("n1", "v1.34.6"), versioned("old2", "v1.34.6"), versioned("new", "v1.35.1"),
                            versioned("lab-real", "v1.34.6", pool=None)],
                    [pod("web-1", "n1", "web-rs")], owners=replicaset("web-rs", 1))
    seen = []

    def scheduler(now):  # where the replacement lands: the first schedulable node, as a scheduler with one choice
        if now >= 1002.0 and not any(p["metadata"]["name"] == "web-2" for p in kube.pods_):
            free = [n for n, v in sorted(kube.nodes_.items()) if n != "n1" and not v["spec"].get("unschedulable")]
            seen.append(free)
            kube.pods_.append(pod("web-2", free[0], "web-rs"))
    clock.on_tick.append(scheduler)
    drainer, lines = make(clock, kube, steer_to_version="1.35")

    result = drainer.drain(["n1"])

    assert seen == [["lab-real", "new"]]  # old2 was cordoned while web moved; a node outside the pools never is
    assert result["steered_away_from"] == ["old2"]
    assert not kube.nodes_["old2"]["spec"].get("unschedulable")
    assert objects.cordoned_by(kube.nodes_["old2"]) is None and objects.PHASE not in objects.annotations(kube.nodes_["old2"])
    assert any("so its pods land on nodes at 1.35" in line for line in lines)


def test_no_steering_without_room_or_a_node_at_the_target_and_leftovers_are_put_back(clock):
    big = pod("web-1", "n1", "web-rs")
    big["spec"]["containers"] = [{"resources": {"requests": {"cpu": "3"}}}]
    kube = FakeKube(clock, [versioned("n1", "v1.34.6"), versioned("old2", "v1.34.6"), versioned("new", "v1.35.1", cpu="2"),
                            node("stale", unschedulable=True, notes={objects.CORDONED_BY: OWNER, objects.PHASE: "steering"})],
                    [big], owners=replicaset("web-rs", 1))
    add_replacement_later(clock, kube, 1002.0, "web-2", node_name="old2")
    drainer, lines = make(clock, kube, steer_to_version="1.35")
    result = drainer.drain(["n1"])
    assert "steered_away_from" not in result and not kube.nodes_["old2"]["spec"].get("unschedulable")
    assert any("not steering: no room" in line for line in lines)
    assert not kube.nodes_["stale"]["spec"].get("unschedulable")  # a killed drain's steering cordon is undone


@pytest.mark.parametrize("kubelet, minor, ok", [("v1.35.2", "1.35", True), ("v1.35", "1.35", True),
                                                ("v1.350.1", "1.35", False), ("v1.34.9", "1.35", False),
                                                (None, "1.35", False), ("v1.35.0", "", False)])
def test_at_version(kubelet, minor, ok):
    from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import at_version
    assert at_version(kubelet, minor) is ok
