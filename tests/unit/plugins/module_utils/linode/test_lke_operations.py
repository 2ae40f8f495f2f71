"""linode/lke_operations.py against a fake LKE client and a fake Kubernetes API (the boundaries).

The fake world behaves like LKE: a change is accepted at once and done later (the control plane
reports the new version while "upgrading", a new pool node provisions before its Node joins, a
recycled node gets a new instance whose Node joins Ready on the target kubelet). Time is a fake
clock: each wait's sleep moves the world one step, so the waits are exercised without sleeping.
"""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.versions import VersionError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import lke_operations as ops
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal


class World(object):
    """A fake LKE cluster (the LKE client's calls) and its Kubernetes Nodes (the Kube's nodes())."""

    cluster_id = 7

    def __init__(self, version="1.33", kubelet="v1.33.4", pools=None, steps_to_ready=1):
        self.now = 0.0
        self.sleeps = []
        self.calls = []
        self.version = version
        self.status = "ready"
        self.available = ["1.33", "1.34", "1.35"]
        self.pools_ = {}
        self.k8s = {}              # instance id -> Node
        self.pending = []          # (ready_at_step, action)
        self.step_no = 0
        self.steps_to_ready = steps_to_ready
        self.next_instance = 9000
        self.next_node = 500
        self.fail = {}             # method -> LinodeError to raise once
        for pool_id, count in (pools or {101: 2}).items():
            self.pools_[pool_id] = {"id": pool_id, "count": count, "type": "g6-standard-2", "autoscaler": {},
                                    "nodes": []}
            for dummy in range(count):
                self._add_node(pool_id, kubelet, join=True)

    # -- the clock ---------------------------------------------------------------------------------
    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.step_no += 1
        due = [p for p in self.pending if p[0] <= self.step_no]
        self.pending = [p for p in self.pending if p[0] > self.step_no]
        for dummy, action in due:
            action()

    def later(self, action):
        self.pending.append((self.step_no + self.steps_to_ready, action))

    def deadline(self, seconds=600.0):
        return Deadline(seconds, clock=self.clock, sleep=self.sleep)

    # -- helpers -------------------------------------------------------------------------------------
    def _join(self, instance, kubelet, ready=True):
        self.k8s[instance] = {"metadata": {"name": "lke7-%d" % instance, "annotations": {}},
                              "spec": {"providerID": "linode://%d" % instance},
                              "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                                         "nodeInfo": {"kubeletVersion": kubelet}}}

    def _add_node(self, pool_id, kubelet, join=False):
        self.next_node += 1
        node = {"id": "7-%d" % self.next_node, "instance_id": None, "status": "not_ready"}
        self.pools_[pool_id]["nodes"].append(node)
        if join:
            self._provision(node, kubelet)
        return node

    def _provision(self, node, kubelet):
        self.next_instance += 1
        node.update(instance_id=self.next_instance, status="ready")
        self._join(self.next_instance, kubelet)

    def _find(self, node_id):
        for pool in self.pools_.values():
            for node in pool["nodes"]:
                if node["id"] == node_id:
                    return pool, node
        return None, None

    def _maybe_fail(self, method):
        err = self.fail.pop(method, None)
        if err is not None:
            raise err

    def kubelet(self):
        return "v%s.2" % self.version

    def writes(self):
        return [c for c in self.calls if c[0] in ("set_version", "resize_pool", "recycle_node", "delete_node")]

    # -- the LKE client --------------------------------------------------------------------------
    def cluster(self):
        return {"id": self.cluster_id, "label": "lab", "k8s_version": self.version, "status": self.status}

    def versions(self):
        return list(self.available)

    def pools(self):
        return [self.pool(p) for p in sorted(self.pools_)]

    def pool(self, pool_id):
        pool = self.pools_[int(pool_id)]
        return dict(pool, nodes=[dict(n) for n in pool["nodes"]])

    def node(self, node_id):
        self._maybe_fail("node")
        pool, node = self._find(node_id)
        if node is None:
            raise LinodeError("Linode API GET /lke/clusters/7/nodes/%s failed: HTTP 404: Not found" % node_id,
                              status=404)
        return dict(node)

    def set_version(self, version):
        self.calls.append(("set_version", version))
        self.version, self.status = version, "upgrading"
        self.later(lambda: setattr(self, "status", "ready"))

    def resize_pool(self, pool_id, count):
        self.calls.append(("resize_pool", pool_id, count))
        pool = self.pools_[int(pool_id)]
        while len(pool["nodes"]) < count:
            node = self._add_node(pool_id, None)
            self.later(lambda node=node: self._provision(node, self.kubelet()))
        del pool["nodes"][count:]
        pool["count"] = count

    def recycle_node(self, node_id):
        self._maybe_fail("recycle_node")
        self.calls.append(("recycle_node", node_id))
        dummy, node = self._find(node_id)
        self.k8s.pop(node["instance_id"], None)
        node.update(instance_id=None, status="not_ready")
        self.later(lambda: self._provision(node, self.kubelet()))

    def delete_node(self, node_id):
        self.calls.append(("delete_node", node_id))
        pool, node = self._find(node_id)
        pool["nodes"].remove(node)
        pool["count"] -= 1
        instance = node["instance_id"]
        self.later(lambda: self.k8s.pop(instance, None))

    # -- the Kube ------------------------------------------------------------------------------------
    def nodes(self, label_selector=None):
        return list(self.k8s.values())


# ---- upgrade_control_plane ------------------------------------------------------------------------

def test_control_plane_goes_up_one_minor_and_waits_until_ready():
    world = World("1.33")
    changed, before, after = ops.upgrade_control_plane(world, "1.34", world.deadline(), poll=2.0)
    assert (changed, before, after) == (True, "1.33", "1.34")
    assert world.writes() == [("set_version", "1.34")]
    assert world.status == "ready" and world.sleeps == [2.0]  # it waited for "upgrading" to end


def test_control_plane_check_mode_changes_nothing():
    world = World("1.33")
    assert ops.upgrade_control_plane(world, "v1.34.2", world.deadline(), check_mode=True) == (True, "1.33", "1.34")
    assert world.writes() == [] and world.version == "1.33"


def test_control_plane_at_target_is_left_alone():
    world = World("1.34")
    assert ops.upgrade_control_plane(world, "1.34", world.deadline()) == (False, "1.34", "1.34")
    assert world.writes() == []


@pytest.mark.parametrize("target, message", [
    ("1.35", "more than one minor above the cluster's 1.33"),
    ("1.32", "not offered by LKE; available: 1.33, 1.34, 1.35"),
])
def test_control_plane_refuses_a_bad_target_before_any_change(target, message):
    world = World("1.33")
    with pytest.raises(VersionError, match=message):
        ops.upgrade_control_plane(world, target, world.deadline())
    assert world.writes() == []


def test_control_plane_that_never_reports_ready_times_out_naming_the_cluster():
    world = World("1.33", steps_to_ready=10 ** 6)
    progress = []
    with pytest.raises(DeadlineExceeded, match="timed out after 30 s waiting for cluster 7 to report Kubernetes 1.34"):
        ops.upgrade_control_plane(world, "1.34", world.deadline(30), poll=2.0, progress=progress.append)
    assert world.now <= 30.0
    assert progress and all("waiting for cluster 7 to report Kubernetes 1.34" in line for line in progress)
    assert len(progress) <= 3  # at most one line every 10 s


# ---- resize_pool ------------------------------------------------------------------------------------

def test_resize_adds_nodes_and_waits_until_each_is_a_ready_node():
    world = World(pools={101: 2})
    before = [n["id"] for n in world.pools_[101]["nodes"]]
    result = ops.resize_pool(world, world, 101, 3, world.deadline())
    assert world.writes() == [("resize_pool", 101, 3)]
    assert result["changed"] and result["before"] == 2 and result["after"] == 3
    assert len(result["added"]) == 1 and result["added"][0] not in before
    ok, dummy, pending = ops.pool_ready(world, world, 101)
    assert ok and pending == []
    assert world.sleeps  # the new node was not ready when the API accepted the resize


def test_resize_check_mode_changes_nothing():
    world = World(pools={101: 2})
    result = ops.resize_pool(world, world, 101, 3, world.deadline(), check_mode=True)
    assert result["changed"] and result["before"] == 2 and result["after"] == 3 and result["added"] == []
    assert world.writes() == [] and world.pools_[101]["count"] == 2


def test_resize_to_the_same_size_is_not_a_change():
    world = World(pools={101: 2})
    result = ops.resize_pool(world, world, 101, 2, world.deadline())
    assert not result["changed"] and world.writes() == [] and world.sleeps == []


def test_resize_refuses_an_autoscaled_pool():
    world = World(pools={101: 2})
    world.pools_[101]["autoscaler"] = {"enabled": True, "min": 1, "max": 5}
    with pytest.raises(ops.LKEOpError, match="pool 101 has the autoscaler enabled \\(min 1, max 5\\)"):
        ops.resize_pool(world, world, 101, 3, world.deadline())
    assert world.writes() == []


def test_resize_without_wait_returns_at_once():
    world = World(pools={101: 2})
    result = ops.resize_pool(world, world, 101, 3, world.deadline(), wait=False)
    assert result["changed"] and world.sleeps == []


def test_pool_ready_names_the_nodes_still_pending():
    world = World(pools={101: 1})
    world.resize_pool(101, 2)
    ok, dummy, pending = ops.pool_ready(world, world, 101)
    assert not ok and pending == [world.pools_[101]["nodes"][1]["id"]]
    list(world.k8s.values())[0]["status"]["conditions"][0]["status"] = "False"
    ok, dummy, pending = ops.pool_ready(world, world, 101)
    assert len(pending) == 2


def test_resize_that_never_finishes_times_out_naming_the_pool():
    world = World(pools={101: 2}, steps_to_ready=10 ** 6)
    with pytest.raises(DeadlineExceeded, match="pool 101 to have 3 Ready nodes"):
        ops.resize_pool(world, world, 101, 3, world.deadline(5), poll=1.0)


# ---- recycle_batch ------------------------------------------------------------------------------------

def old_nodes(world, pool_id=101):
    return [{"id": n["id"], "instance_id": n["instance_id"]} for n in world.pools_[pool_id]["nodes"]]


def test_recycle_batch_recycles_together_then_waits_for_each_new_instance():
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    specs = old_nodes(world)
    results = ops.recycle_batch(world, world, specs, "1.34", world.deadline())
    assert world.writes() == [("recycle_node", s["id"]) for s in specs]  # both requested before any wait
    for spec, res in zip(specs, results):
        assert res["changed"] and res["old_instance_id"] == spec["instance_id"]
        assert res["new_instance_id"] not in (None, spec["instance_id"])
        assert res["kubelet_version"] == "v1.34.2" and res["node_name"] == "lke7-%d" % res["new_instance_id"]
        assert res["old_node_name"] == "lke7-%d" % spec["instance_id"]


def test_recycle_check_mode_plans_and_changes_nothing():
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    results = ops.recycle_batch(world, world, old_nodes(world), "1.34", world.deadline(), check_mode=True)
    assert [r["changed"] for r in results] == [True, True]
    assert world.writes() == [] and world.sleeps == []


def test_a_node_already_recycled_by_an_interrupted_run_is_only_waited_for():
    world = World("1.34", kubelet="v1.33.4", pools={101: 1})
    spec = old_nodes(world)[0]
    world.recycle_node(spec["id"])  # the interrupted run's request; the new instance is still coming
    world.calls[:] = []
    results = ops.recycle_batch(world, world, [spec], "1.34", world.deadline())
    assert world.writes() == [] and results[0]["changed"] is False
    assert results[0]["new_instance_id"] is not None


def test_a_node_already_at_target_is_not_recycled_again_in_check_mode():
    world = World("1.34", kubelet="v1.34.1", pools={101: 1})
    spec = {"id": world.pools_[101]["nodes"][0]["id"]}  # no instance given: "recycle if not on target"
    results = ops.recycle_batch(world, world, [spec], "1.34", world.deadline(), check_mode=True)
    assert results[0]["changed"] is False


def test_a_node_already_at_target_is_neither_recycled_nor_waited_for():
    world = World("1.34", kubelet="v1.34.1", pools={101: 2})
    world.k8s[world.pools_[101]["nodes"][1]["instance_id"]]["status"]["nodeInfo"]["kubeletVersion"] = "v1.33.4"
    specs = [{"id": n["id"]} for n in world.pools_[101]["nodes"]]  # no instance given: "recycle if not on target"
    on_target = world.pools_[101]["nodes"][0]
    results = ops.recycle_batch(world, world, specs, "1.34", world.deadline(30))
    assert world.writes() == [("recycle_node", specs[1]["id"])]
    assert results[0]["changed"] is False and results[1]["changed"] is True
    assert results[0]["new_instance_id"] == on_target["instance_id"] == results[0]["old_instance_id"]
    assert results[0]["kubelet_version"] == "v1.34.1" and results[0]["seconds"] == 0.0
    assert results[1]["kubelet_version"] == "v1.34.2"


def test_recycle_409_busy_means_a_recycle_is_under_way_so_only_wait():
    world = World("1.34", kubelet="v1.33.4", pools={101: 1})
    spec = old_nodes(world)[0]
    world.recycle_node(spec["id"])
    world.calls[:] = []
    world.pools_[101]["nodes"][0]["instance_id"] = spec["instance_id"]  # the API still shows the old instance
    world.fail["recycle_node"] = LinodeError("Linode API POST .../recycle failed: HTTP 409: busy", status=409)
    results = ops.recycle_batch(world, world, [spec], "1.34", world.deadline())
    assert results[0]["changed"] is False


def test_recycle_other_api_errors_are_raised():
    world = World("1.34", kubelet="v1.33.4", pools={101: 1})
    world.fail["recycle_node"] = LinodeError("Linode API POST .../recycle failed: HTTP 400: bad", status=400)
    with pytest.raises(LinodeError, match="HTTP 400"):
        ops.recycle_batch(world, world, old_nodes(world), "1.34", world.deadline())


def test_recycle_of_an_unknown_node_names_it_and_the_cluster():
    world = World()
    with pytest.raises(ops.LKEOpError, match="LKE node 7-999 does not exist in cluster 7"):
        ops.recycle_batch(world, world, [{"id": "7-999", "instance_id": 1}], "1.34", world.deadline())
    assert world.writes() == []


def test_recycle_that_never_comes_back_times_out_naming_the_node_and_version():
    world = World("1.34", kubelet="v1.33.4", pools={101: 1}, steps_to_ready=10 ** 6)
    spec = old_nodes(world)[0]
    with pytest.raises(DeadlineExceeded, match="node %s to come back as a Ready Node running 1.34" % spec["id"]):
        ops.recycle_batch(world, world, [spec], "1.34", world.deadline(5))


def test_a_node_that_vanishes_during_the_recycle_is_an_error():
    world = World("1.34", kubelet="v1.33.4", pools={101: 1}, steps_to_ready=10 ** 6)
    spec = old_nodes(world)[0]
    world.later = lambda action: world.pending.append((1, lambda: world.pools_[101]["nodes"].clear()))
    with pytest.raises(ops.LKEOpError, match="LKE node %s vanished while it was being recycled" % spec["id"]):
        ops.recycle_batch(world, world, [spec], "1.34", world.deadline())


# ---- delete_node ------------------------------------------------------------------------------------------

def test_delete_node_waits_until_its_node_leaves_the_cluster():
    world = World(pools={101: 3})
    victim = world.pools_[101]["nodes"][2]
    instance = victim["instance_id"]
    result = ops.delete_node(world, world, victim["id"], world.deadline())
    assert result == {"changed": True, "node_id": victim["id"], "instance_id": instance,
                      "node_name": "lke7-%d" % instance}
    assert world.writes() == [("delete_node", victim["id"])]
    assert instance not in world.k8s and world.sleeps


def test_delete_node_check_mode_changes_nothing():
    world = World(pools={101: 3})
    victim = world.pools_[101]["nodes"][0]
    result = ops.delete_node(world, world, victim["id"], world.deadline(), check_mode=True)
    assert result["changed"] and world.writes() == [] and len(world.k8s) == 3


def test_delete_of_a_node_already_gone_is_no_change():
    world = World()
    assert ops.delete_node(world, world, "7-404", world.deadline()) == {"changed": False, "node_id": "7-404"}
    assert world.writes() == []


def test_node_state_passes_other_api_errors_on():
    world = World()
    world.fail["node"] = LinodeError("Linode API GET failed: HTTP 500: oops", status=500)
    with pytest.raises(LinodeError, match="HTTP 500"):
        ops.node_state(world, world, world.pools_[101]["nodes"][0]["id"])


# ---- pool_surge -------------------------------------------------------------------------------------------

@pytest.fixture
def journal(tmp_path):
    return RunJournal(str(tmp_path), "run-1", "upgrade_cluster")


def test_pool_surge_adds_one_node_and_remembers_it(journal):
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    original = [n["id"] for n in world.pools_[101]["nodes"]]
    out = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal)
    assert out["changed"] and out["original_count"] == 2
    assert world.writes() == [("resize_pool", 101, 3)]
    assert out["surge_node_id"] not in original and out["surge_node_name"].startswith("lke7-")
    assert sorted(n["id"] for n in out["old"]) == sorted(original)
    facts = journal.state["facts"]
    assert facts["pool_nodes"] == {"101": original} and facts["surge_nodes"] == {"101": out["surge_node_id"]}


def test_pool_surge_rerun_finds_the_same_surge_node(journal):
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    first = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal)
    world.calls[:] = []
    again = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal)
    assert world.writes() == [] and not again["changed"]
    assert again["surge_node_id"] == first["surge_node_id"] and again["original_count"] == 2
    assert first["surge_node_id"] not in [n["id"] for n in again["old"]]


def test_pool_surge_rerun_after_a_kill_before_the_surge_node_was_noted_does_not_roll_it_as_an_old_node(journal):
    # run 1 was cut off after the resize was asked (pool_nodes noted) and before the surge node was noted;
    # on the re-run that node has not joined on the target yet, so it looks like an old node at first
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    journal.set_fact("pool_counts", {"101": 2})  # as cluster_preflight records it before any change
    first = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal)
    journal.set_fact("surge_nodes", {})
    surge = [n for n in world.pools_[101]["nodes"] if n["id"] == first["surge_node_id"]][0]
    world.k8s[surge["instance_id"]]["status"]["nodeInfo"]["kubeletVersion"] = "v1.33.4"
    again = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal)
    assert again["surge_node_id"] == first["surge_node_id"] and again["original_count"] == 2
    assert first["surge_node_id"] not in [n["id"] for n in again["old"]] and len(again["old"]) == 2


def test_pool_surge_check_mode_changes_nothing(journal):
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    out = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal, check_mode=True)
    assert out["changed"] and out["surge_node_id"] is None
    assert world.writes() == [] and journal.state["facts"] == {}


def test_pool_surge_with_no_old_node_left_resizes_nothing(journal):
    world = World("1.34", kubelet="v1.34.1", pools={101: 2})
    calls = []
    out = ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal, on_change=lambda: calls.append(1))
    assert out["old"] == [] and not out["changed"] and out["surge_node_id"] is None
    assert world.writes() == [] and calls == []


def test_pool_surge_calls_on_change_before_resizing(journal):
    world = World("1.34", kubelet="v1.33.4", pools={101: 2})
    seen = []
    ops.pool_surge(world, world, 101, "1.34", world.deadline(), journal=journal,
                   on_change=lambda: seen.append(list(world.writes())))
    assert seen == [[]]


def test_pool_surge_of_an_unknown_pool_lists_the_pools():
    world = World(pools={101: 1, 102: 1})
    with pytest.raises(RunbookError, match="pool 999 is not in cluster 7; pools: 101, 102"):
        ops.pool_surge(world, world, 999, "1.34", world.deadline())


def test_unfinished_recycles_are_the_running_ones_whose_nodes_the_batches_will_not_visit_again():
    unfinished_recycles = ops.unfinished_recycles
    steps = [
        {"name": "recycle 1-a", "status": "done", "details": {"nodes": [{"id": "1-a", "instance_id": 10}]}},
        {"name": "recycle 1-b", "status": "running", "details": {"nodes": [{"id": "1-b", "instance_id": 11}]}},
        {"name": "recycle 1-c", "status": "running", "details": {"nodes": [{"id": "1-c", "instance_id": 12}]}},
        {"name": "drain n-d", "status": "running", "details": {"nodes": [{"id": "1-d"}]}},
        {"name": "recycle 1-e", "status": "running", "details": {}},
    ]
    # 1-c is still old (its recycle was never requested, or it provisions): the batches roll it, not this.
    assert unfinished_recycles(steps, ["1-c", "1-d"]) == [[{"id": "1-b", "instance_id": 11}]]
    assert unfinished_recycles(steps, ["1-b", "1-c"]) == []
    assert unfinished_recycles([], []) == [] and unfinished_recycles(None, ["1-b"]) == []
