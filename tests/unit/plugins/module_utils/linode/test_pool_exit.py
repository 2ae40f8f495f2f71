"""linode/pool_exit.py: the node that leaves after a surge rollout is chosen once, journaled, resumable."""

from ansible_collections.fournines.runbooks.plugins.module_utils.linode import pool_exit
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal


class FakeLKE(object):
    cluster_id = 7

    def __init__(self, nodes, count):
        self.nodes = nodes
        self.count = count

    def cluster(self):
        return {"id": 7, "k8s_version": "1.35"}

    def versions(self):
        return ["1.35"]

    def pools(self):
        return [{"id": 101, "count": self.count, "type": "g6-standard-2",
                 "nodes": [{"id": n, "instance_id": i, "status": "ready"} for n, i in self.nodes]}]


class FakeKube(object):
    def __init__(self, names):
        self.names = names

    def nodes(self):
        return [{"metadata": {"name": name}, "spec": {"providerID": "linode://%d" % inst},
                 "status": {"nodeInfo": {"kubeletVersion": "v1.35.0"}, "conditions": [{"type": "Ready", "status": "True"}]}}
                for inst, name in self.names.items()]


COSTS = {"lke-surge": {"sensitive": ["app/web-1 (single replica)"], "pods": 2}, "lke-a": {"sensitive": [], "pods": 3},
         "lke-b": {"sensitive": [], "pods": 1}}


def _world(count=3):
    lke = FakeLKE([("101-a", 1), ("101-b", 2), ("101-s", 3)][:count], count)
    kube = FakeKube({1: "lke-a", 2: "lke-b", 3: "lke-surge"})
    return lke, kube


def test_chooses_the_cheapest_node_not_the_surge(tmp_path):
    lke, kube = _world()
    journal = RunJournal(str(tmp_path), "run-1", "upgrade-cluster")
    out = pool_exit.choose_leaving_node(lke, kube, 101, 2, surge_node_id="101-s", journal=journal, costs=COSTS)
    assert (out["node_id"], out["node_name"]) == ("101-b", "lke-b")
    assert journal.state["facts"]["leaving_nodes"]["101"]["node_id"] == "101-b"
    # a re-run returns the same node even if the pods moved around meanwhile
    again = pool_exit.choose_leaving_node(lke, kube, 101, 2, surge_node_id="101-s", journal=journal,
                                          costs={"lke-a": {"sensitive": [], "pods": 0}})
    assert again["node_id"] == "101-b"
    # once it is gone, nothing is left to remove
    lke.nodes, lke.count = [("101-a", 1), ("101-s", 3)], 2
    done = pool_exit.choose_leaving_node(lke, kube, 101, 2, surge_node_id="101-s", journal=journal, costs=COSTS)
    assert done["node_id"] is None and "already left" in done["reason"]


def test_pool_at_original_size_removes_nothing(tmp_path):
    lke, kube = _world(count=2)
    out = pool_exit.choose_leaving_node(lke, kube, 101, 2, journal=None, costs=COSTS)
    assert out["node_id"] is None and "original size" in out["reason"]


def test_check_mode_writes_no_journal(tmp_path):
    lke, kube = _world()
    journal = RunJournal(str(tmp_path), "run-1", "upgrade-cluster")
    out = pool_exit.choose_leaving_node(lke, kube, 101, 2, journal=journal, check_mode=True, costs=COSTS)
    assert out["node_id"] == "101-b"
    assert "leaving_nodes" not in journal.state["facts"]


def test_a_quarantined_node_never_leaves(tmp_path):
    lke, kube = _world()
    nodes = kube.nodes()
    nodes[1]["metadata"]["annotations"] = {"runbooks.fournines.io/upgrade-phase": "quarantined"}
    kube.nodes = lambda: nodes
    out = pool_exit.choose_leaving_node(lke, kube, 101, 2, journal=None, costs=COSTS)
    assert out["node_name"] == "lke-a"
