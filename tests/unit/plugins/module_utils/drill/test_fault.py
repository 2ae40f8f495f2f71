"""drill/fault.py: faults on the Linode instance behind a Node (delete, shutdown, boot) and the
out-of-service taint, against a fake LKE client and a fake Kubernetes API (the boundaries)."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects


class Clock(object):
    def __init__(self):
        self.now = 0.0
        self.ticks = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        for tick in self.ticks:
            tick()


class FakeLKE(object):
    cluster_id = 7

    def __init__(self, instances):
        self.instances = instances
        self.calls = []
        self.settle = []  # what becomes true at the next tick

    def instance(self, instance_id):
        inst = self.instances.get(int(instance_id))
        return dict(inst) if inst else None

    def delete_instance(self, instance_id):
        self.calls.append(("delete", instance_id))
        self.settle.append(lambda: self.instances.pop(instance_id))

    def power(self, instance_id, action):
        self.calls.append((action, instance_id))
        inst = self.instances[instance_id]
        inst["status"] = "shutting_down" if action == "shutdown" else "booting"
        self.settle.append(lambda: inst.update(status="offline" if action == "shutdown" else "running"))

    def tick(self):
        while self.settle:
            self.settle.pop(0)()


class FakeKube(object):
    host = "https://127.0.0.1:16443"

    def __init__(self, nodes):
        self.nodes_ = nodes
        self.patches = []

    def node(self, name):
        return self.nodes_.get(name)

    def patch_node(self, name, patch):
        self.patches.append((name, patch))
        node = self.nodes_[name]
        node["spec"]["taints"] = patch["spec"]["taints"]
        notes = node["metadata"].setdefault("annotations", {})
        for key, value in patch["metadata"]["annotations"].items():
            if value is None:
                notes.pop(key, None)
            else:
                notes[key] = value


def k8s_node(name, instance, ready=True, taints=None, notes=None, provider=None):
    return {"metadata": {"name": name, "resourceVersion": "42", "annotations": dict(notes or {})},
            "spec": {"providerID": provider or "linode://%d" % instance, "taints": list(taints or [])},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.fixture
def world():
    lke = FakeLKE({11: {"id": 11, "status": "running", "lke_cluster_id": 7},
                   12: {"id": 12, "status": "offline", "lke_cluster_id": 7},
                   99: {"id": 99, "status": "running", "lke_cluster_id": 8}})
    kube = FakeKube({"lke7-11": k8s_node("lke7-11", 11), "lke7-12": k8s_node("lke7-12", 12, ready=False),
                     "kind": k8s_node("kind", 0, provider="kind://docker/x")})
    clock = Clock()
    clock.ticks.append(lke.tick)
    return lke, kube, clock


def deadline(clock, seconds=30):
    return Deadline(seconds, clock=clock, sleep=clock.sleep)


# ---- resolve --------------------------------------------------------------------------------------

def test_resolve_by_node_name_and_by_instance(world):
    lke, kube, dummy = world
    assert fault.resolve(lke, kube, node="lke7-11")[:2] == ("lke7-11", 11)
    assert fault.resolve(lke, kube, instance_id="12")[:2] == (None, 12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "give the node's name or its Linode instance id"),
    (dict(node="ghost"), "node 'ghost' does not exist in the cluster at https://127.0.0.1:16443; nothing was changed"),
    (dict(node="kind"), "node 'kind' has no Linode instance \\(spec.providerID is 'kind://docker/x', expected "
                        "linode://<id>\\); nothing was changed"),
    (dict(instance_id=99), "instance 99 belongs to LKE cluster 8, not 7; nothing was changed"),
])
def test_resolve_refuses_naming_the_input(world, kwargs, message):
    lke, kube, dummy = world
    with pytest.raises(fault.FaultError, match=message):
        fault.resolve(lke, kube, **kwargs)


# ---- inject ---------------------------------------------------------------------------------------

def test_unknown_action_lists_the_valid_ones(world):
    lke, kube, dummy = world
    with pytest.raises(fault.FaultError, match="action 'reboot' is not known; valid actions: delete, shutdown, boot"):
        fault.inject(lke, kube, "reboot", node="lke7-11")


@pytest.mark.parametrize("action", fault.ACTIONS)
def test_check_mode_changes_nothing(world, action):
    lke, kube, dummy = world
    node = "lke7-12" if action == "boot" else "lke7-11"
    result = fault.inject(lke, kube, action, node=node, check_mode=True)
    assert result["changed"] and result["ts"] is None and lke.calls == []


def test_delete_waits_until_the_instance_is_gone(world):
    lke, kube, clock = world
    result = fault.inject(lke, kube, "delete", node="lke7-11", wait=True, deadline=deadline(clock))
    assert lke.calls == [("delete", 11)] and 11 not in lke.instances
    assert result["changed"] and result["before"] == "running" and result["ts"] is not None
    again = fault.inject(lke, kube, "delete", instance_id=11)
    assert not again["changed"] and again["before"] == "deleted" and lke.calls == [("delete", 11)]


def test_shutdown_waits_for_offline_and_is_not_repeated(world):
    lke, kube, clock = world
    result = fault.inject(lke, kube, "shutdown", node="lke7-11", wait=True, deadline=deadline(clock))
    assert result["changed"] and lke.instances[11]["status"] == "offline"
    assert not fault.inject(lke, kube, "shutdown", node="lke7-11")["changed"]
    assert lke.calls == [("shutdown", 11)]


def test_boot_waits_for_the_instance_and_the_node(world):
    lke, kube, clock = world
    clock.ticks.append(lambda: kube.nodes_["lke7-12"]["status"]["conditions"][0].update(status="True")
                       if clock.now >= 3 else None)
    result = fault.inject(lke, kube, "boot", node="lke7-12", wait=True, deadline=deadline(clock), poll=1.0)
    assert result["changed"] and lke.calls == [("boot", 12)]
    assert clock.now >= 3  # running alone was not enough: the Node had to be Ready
    assert not fault.inject(lke, kube, "boot", node="lke7-12")["changed"]


def test_a_boot_that_never_makes_the_node_ready_times_out_naming_both(world):
    lke, kube, clock = world
    with pytest.raises(DeadlineExceeded, match="instance 12 to run and node lke7-12 to be Ready"):
        fault.inject(lke, kube, "boot", node="lke7-12", wait=True, deadline=deadline(clock, 5))


@pytest.mark.parametrize("action, message", [("shutdown", "instance 11 does not exist, so it cannot be shut down"),
                                             ("boot", "instance 11 does not exist \\(deleted\\), so it cannot be "
                                                      "booted")])
def test_power_actions_on_a_deleted_instance_are_refused(world, action, message):
    lke, kube, dummy = world
    del lke.instances[11]
    with pytest.raises(fault.FaultError, match=message):
        fault.inject(lke, kube, action, node="lke7-11")


# ---- the out-of-service taint ----------------------------------------------------------------------

def test_set_taint_adds_and_records_it_guarded_by_the_resource_version(world):
    dummy, kube, dummy2 = world
    changed, before, after = fault.set_taint(kube, "lke7-12", fault.OUT_OF_SERVICE_KEY, "nodeshutdown")
    assert changed and before == []
    assert after == [{"key": fault.OUT_OF_SERVICE_KEY, "effect": "NoExecute", "value": "nodeshutdown"}]
    name, patch = kube.patches[0]
    assert patch["metadata"]["resourceVersion"] == "42"
    assert objects.annotations(kube.nodes_["lke7-12"])[fault.ADDED_TAINTS] == fault.OUT_OF_SERVICE_KEY + ":NoExecute"
    assert fault.set_taint(kube, "lke7-12", fault.OUT_OF_SERVICE_KEY)[0] is False  # already there


def test_set_taint_removes_only_what_it_added(world):
    dummy, kube, dummy2 = world
    theirs = {"key": fault.OUT_OF_SERVICE_KEY, "effect": "NoExecute"}
    kube.nodes_["lke7-11"]["spec"]["taints"] = [theirs, {"key": "other", "effect": "NoSchedule"}]
    assert fault.set_taint(kube, "lke7-11", fault.OUT_OF_SERVICE_KEY, present=False)[0] is False
    assert kube.patches == []
    changed, dummy3, after = fault.set_taint(kube, "lke7-11", fault.OUT_OF_SERVICE_KEY, present=False, force=True)
    assert changed and after == [{"key": "other", "effect": "NoSchedule"}]


def test_set_taint_round_trip_leaves_the_node_as_it_was(world):
    dummy, kube, dummy2 = world
    fault.set_taint(kube, "lke7-12", fault.OUT_OF_SERVICE_KEY, "nodeshutdown")
    changed, dummy3, after = fault.set_taint(kube, "lke7-12", fault.OUT_OF_SERVICE_KEY, present=False)
    assert changed and after == []
    node = kube.nodes_["lke7-12"]
    assert node["spec"]["taints"] is None and fault.ADDED_TAINTS not in objects.annotations(node)


def test_set_taint_check_mode_and_missing_nodes(world):
    dummy, kube, dummy2 = world
    assert fault.set_taint(kube, "lke7-11", "k", check_mode=True)[0] is True and kube.patches == []
    assert fault.set_taint(kube, "ghost", "k", present=False) == (False, [], [])
    with pytest.raises(fault.FaultError, match="node 'ghost' does not exist; cannot taint it"):
        fault.set_taint(kube, "ghost", "k")
