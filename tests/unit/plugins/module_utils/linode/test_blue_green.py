"""linode/blue_green.py: the new pool is bought once (found again by its tag after an interruption),
the plan's batches and node-hours, pool deletes; the LKE client and the Kube are fakes (the boundaries)."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import blue_green
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError


def k8s_node(name, instance, kubelet):
    return {"metadata": {"name": name, "annotations": {}}, "spec": {"providerID": "linode://%d" % instance},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": kubelet}}}


class World(object):
    """An LKE account whose new pools come up at once at the cluster's version."""

    def __init__(self, count=3, version="v1.34.2"):
        self.version = version
        self.next_instance = 100
        self.pools_ = {}
        self.k8s = []
        self.created = 0
        self.bodies = []
        self._pool(1, "g6-standard-4", count, ["team-a"], "v1.33.4")
        self.pools_[1].update(labels={"tier": "web"}, taints=[{"key": "dedicated", "value": "web", "effect": "NoSchedule"}])

    def _pool(self, pid, ptype, count, tags, kubelet):
        nodes = []
        for i in range(count):
            self.next_instance += 1
            nodes.append({"id": "%d-%d" % (pid, i), "instance_id": self.next_instance, "status": "ready"})
            self.k8s.append(k8s_node("lke%d-%d" % (pid, i), self.next_instance, kubelet))
        self.pools_[pid] = {"id": pid, "type": ptype, "count": count, "tags": tags, "labels": {}, "nodes": nodes,
                            "autoscaler": {"enabled": False}}
        return self.pools_[pid]

    # LKE
    cluster_id = 7

    def cluster(self):
        return {"id": 7, "k8s_version": "1.34", "status": "ready"}

    def versions(self):
        return ["1.33", "1.34"]

    def pools(self):
        return list(self.pools_.values())

    def pool(self, pid):
        if int(pid) not in self.pools_:
            raise LinodeError("not found", 404)
        return self.pools_[int(pid)]

    def create_pool(self, body):
        self.created += 1
        self.bodies.append(body)
        return self._pool(max(self.pools_) + 1, body["type"], body["count"], body["tags"], self.version)

    def delete_pool(self, pid):
        pool = self.pools_.pop(int(pid))
        gone = set(n["instance_id"] for n in pool["nodes"])
        self.k8s = [n for n in self.k8s if int(n["spec"]["providerID"][9:]) not in gone]

    # Kube
    def nodes(self):
        return list(self.k8s)


class Journal(object):
    def __init__(self):
        self.state = {"facts": {}}

    def set_fact(self, key, value):
        self.state["facts"][key] = value


def test_the_new_pool_copies_type_and_size_and_comes_up_at_the_target():
    world, journal = World(), Journal()
    out = blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=journal)
    assert out["changed"] and out["green_pool_id"] == 2 and world.created == 1
    green = world.pools_[2]
    assert (green["type"], green["count"], green["tags"]) == ("g6-standard-4", 3, ["team-a", "fournines-green-of-1"])
    assert world.bodies[0]["labels"] == {"tier": "web"}
    assert world.bodies[0]["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
    assert [n["node_name"] for n in out["old"]] == ["lke1-0", "lke1-1", "lke1-2"]
    assert len(out["green"]) == 3 and all(n["at_target"] for n in out["green"])
    assert journal.state["facts"]["green_pools"] == {"1": 2}


def test_a_rerun_finds_the_new_pool_by_its_tag_even_without_the_journal_fact():
    world = World()
    blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=Journal())
    again = blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=Journal())
    assert not again["changed"] and again["green_pool_id"] == 2 and world.created == 1


def test_check_mode_records_nothing_in_the_journal_for_a_new_pool_found_by_its_tag():
    world = World()
    blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=Journal())
    journal = Journal()
    out = blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=journal, check_mode=True)
    assert out["green_pool_id"] == 2 and world.created == 1
    assert journal.state["facts"] == {}


def test_check_mode_buys_nothing_and_an_upgraded_pool_needs_no_new_one():
    world = World()
    out = blue_green.create_green(world, world, 1, "1.34", Deadline(5), check_mode=True)
    assert out["changed"] and out["green_pool_id"] is None and world.created == 0
    done = World(version="v1.34.2")
    done.pools_.clear()
    done.k8s = []
    done._pool(1, "g6-standard-2", 2, [], "v1.34.2")
    out = blue_green.create_green(done, done, 1, "1.34", Deadline(5))
    assert not out["changed"] and out["green_pool_id"] is None and done.created == 0


def test_an_autoscaled_pool_is_refused_before_any_change():
    world = World()
    world.pools_[1]["autoscaler"] = {"enabled": True, "min": 1, "max": 5}
    with pytest.raises(blue_green.BlueGreenError, match="autoscaler"):
        blue_green.create_green(world, world, 1, "1.34", Deadline(5))
    assert world.created == 0


def test_a_new_pool_that_never_reaches_the_target_times_out():
    world = World(version="v1.33.9")  # the control plane was not upgraded: new nodes come up on the old minor
    with pytest.raises(Exception, match="new pool 2 to have 3 Ready nodes on 1.34"):
        blue_green.create_green(world, world, 1, "1.34", Deadline(0.2), poll=0.05)


def test_delete_pool_waits_for_the_nodes_and_is_a_no_op_the_second_time():
    world = World()
    out = blue_green.delete_pool(world, world, 1, Deadline(5))
    assert out == {"changed": True, "pool_id": 1, "nodes": ["lke1-0", "lke1-1", "lke1-2"]}
    assert world.k8s == []
    assert blue_green.delete_pool(world, world, 1, Deadline(5)) == {"changed": False, "pool_id": 1, "nodes": []}


@pytest.mark.parametrize("value, count, expected", [
    ("10%", 50, 5), ("10%", 3, 1), ("34%", 3, 2), ("100%", 3, 3), ("2", 3, 2), (1, 50, 1),
])
def test_batch_count(value, count, expected):
    assert blue_green.batch_count(value, count) == expected


@pytest.mark.parametrize("value", ["0", "-1", "0%", "150%", "ten", ""])
def test_a_bad_batch_size_names_what_is_valid(value):
    with pytest.raises(blue_green.BlueGreenError, match="number of nodes .* or a percentage"):
        blue_green.batch_count(value, 3)


def test_estimate_counts_batches_soaks_and_node_hours():
    plan = blue_green.estimate(50, "10%", batch_soak=60, final_soak=300, drain_seconds=30, create_seconds=120)
    assert (plan["batch_size"], plan["batches"]) == (5, 10)
    assert plan["double_pool_seconds"] == 120 + 10 * (30 + 60) + 300
    assert plan["extra_node_hours"] == round(50 * 1320 / 3600.0, 2)
    assert blue_green.batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]


def test_a_new_pool_keeps_the_run_key_of_the_pool_it_replaces():
    from ansible_collections.fournines.runbooks.plugins.module_utils.linode import lke_view
    world = World()
    blue_green.create_green(world, world, 1, "1.34", Deadline(5))
    view = lke_view.cluster_view(world, world, "1.34")
    assert [(p["id"], p["origin_pool_id"]) for p in view["pools"]] == [(1, 1), (2, 1)]
    assert lke_view.origin_pool_id({"id": 9, "tags": ["fournines-green-of-x", "team"]}) == 9


def test_without_wait_the_new_pool_is_created_and_a_later_wait_finds_it_by_its_tag():
    world, journal = World(), Journal()
    out = blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=journal, wait=False)
    assert out["changed"] and out["green_pool_id"] == 2 and world.created == 1
    assert journal.state["facts"]["green_pools"] == {"1": 2}
    ready = blue_green.create_green(world, world, 1, "1.34", Deadline(5), journal=journal, wait=True)
    assert not ready["changed"] and ready["green_pool_id"] == 2 and world.created == 1
    assert len(ready["green"]) == 3 and all(n["ready"] and n["at_target"] for n in ready["green"])


def test_a_wait_that_times_out_names_the_new_pool_and_why_its_nodes_are_not_ready():
    world = World(version="v1.33.9")  # new nodes come up on the old minor
    with pytest.raises(blue_green.BlueGreenError) as info:
        blue_green.create_green(world, world, 1, "1.34", Deadline(0.2), poll=0.05)
    err = info.value
    assert "timed out after 0 s waiting for new pool 2 to have 3 Ready nodes on 1.34" in str(err)
    assert "lke2-0 on v1.33.9, not 1.34" in str(err)
    assert err.details["green_pool_id"] == 2 and [n["node_name"] for n in err.details["green"]] == \
        ["lke2-0", "lke2-1", "lke2-2"]


def test_a_wait_for_nodes_lke_has_not_provisioned_says_so():
    world = World()
    created = world.create_pool

    def unprovisioned(body):
        pool = created(body)
        world.k8s = world.k8s[:-3]  # no Node registered yet
        for node in pool["nodes"]:
            node.update(instance_id=None, status="not_ready")
        return pool
    world.create_pool = unprovisioned
    with pytest.raises(blue_green.BlueGreenError, match=r"2-0 not provisioned yet \(LKE status not_ready\)"):
        blue_green.create_green(world, world, 1, "1.34", Deadline(0.1), poll=0.05)


@pytest.mark.parametrize("strategy, undrainable", [("surge", "fail"), ("surge", "quarantine"), ("blue_green", "fail")])
def test_undrainable_policies_each_strategy_supports(strategy, undrainable):
    assert blue_green.undrainable_problem(strategy, undrainable) is None


def test_quarantine_is_refused_for_blue_green_naming_the_variable_and_what_is_valid():
    msg = blue_green.undrainable_problem("blue_green", "quarantine")
    assert msg.startswith("upgrade_cluster_undrainable=quarantine is not supported with upgrade_cluster_strategy=blue_green")
    assert "Valid with blue_green: fail" in msg and "upgrade_cluster_strategy=surge, which quarantines" in msg
    msg = blue_green.undrainable_problem("blue_green", "quarantine", variable="node_pool_rollout_undrainable")
    assert msg.startswith("node_pool_rollout_undrainable=quarantine")
    assert blue_green.undrainable_problem("surge", "skip") == \
        "upgrade_cluster_undrainable='skip' is not valid; give one of: fail, quarantine"


def test_delete_pool_says_when_it_starts_the_delete_and_not_for_a_pool_already_gone():
    world, calls = World(), []
    blue_green.delete_pool(world, world, 1, Deadline(5), on_change=lambda: calls.append(sorted(world.pools_)))
    assert calls == [[1]]  # called before the DELETE, once
    blue_green.delete_pool(world, world, 1, Deadline(5), on_change=lambda: calls.append("again"))
    assert calls == [[1]]


def test_node_limit_is_checked_against_the_cluster_as_it_is_before_the_purchase():
    """lke_pool_green's node_limit (the runbook's upgrade_cluster_node_limit): a second pool of the blue pool's size
    must fit beside every pool there is now; a new pool already there (a re-run) buys nothing, so passes."""
    world = World(count=3)
    world._pool(2, "g6-standard-2", 2, [], "v1.33.4")  # another pool the preflight may have seen smaller
    plan = blue_green.estimate(3, "1", 0, 0)
    assert blue_green.node_limit_problem(world.pools(), 1, 8, plan) is None
    assert blue_green.node_limit_problem(world.pools(), 1, None, plan) is None
    msg = blue_green.node_limit_problem(world.pools(), 1, 7, plan)
    assert msg.startswith("a blue-green rollout of pool 1 needs 3 more node(s) for about ")
    assert "taking the cluster to 8 nodes, more than node_limit 7; nothing was changed" in msg
    assert "upgrade_cluster_node_limit" in msg and "upgrade_cluster_strategy=surge" in msg
    blue_green.create_green(world, world, 1, "1.34", Deadline(5), poll=0.01)
    assert blue_green.node_limit_problem(world.pools(), 1, 7, plan) is None
