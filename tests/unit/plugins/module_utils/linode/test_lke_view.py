"""linode/lke_view.py: one view of an LKE cluster, Linode pools joined to Kubernetes Nodes by
providerID; the LKE client and the Kube are fakes (the boundaries)."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import lke_view


def k8s_node(name, instance, kubelet="v1.33.4", ready=True, notes=None, unschedulable=False, provider=None):
    return {"metadata": {"name": name, "annotations": dict(notes or {})},
            "spec": dict({"providerID": provider or "linode://%d" % instance},
                         **({"unschedulable": True} if unschedulable else {})),
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "nodeInfo": {"kubeletVersion": kubelet}}}


class Fake(object):
    def __init__(self, pools, nodes):
        self.pools_ = pools
        self.nodes_ = nodes

    # LKE
    def cluster(self):
        return {"id": 7, "label": "lab", "region": "nl-ams", "status": "ready", "k8s_version": "1.33",
                "tier": "standard", "control_plane": {"high_availability": False}, "tags": [], "secret": "not shown"}

    def versions(self):
        return ["1.33", "1.34"]

    def pools(self):
        return self.pools_

    # Kube
    def nodes(self):
        return self.nodes_


@pytest.mark.parametrize("endpoints, host", [
    (["https://abc.nl-ams-1.linodelke.net:443"], "https://ABC.nl-ams-1.linodelke.net"),
    (["https://abc.nl-ams-1.linodelke.net:443", "https://1.2.3.4:443"], "https://1.2.3.4"),
    (["127.0.0.1:16443"], "https://127.0.0.1:16443"),
    (["http://127.0.0.1:8080"], "http://127.0.0.1:8080"),
])
def test_same_cluster(endpoints, host):
    lke_view.check_same_cluster(endpoints, host, 7)


def test_another_cluster_is_refused_naming_both_and_what_to_do():
    with pytest.raises(lke_view.ClusterMismatch) as info:
        lke_view.check_same_cluster(["https://abc.example:443", None], "https://abc.example:6443", 7)
    text = str(info.value)
    assert "the kubeconfig talks to https://abc.example:6443, but LKE cluster 7 serves its API at https://abc.example:443" in text
    assert "GET /lke/clusters/7/kubeconfig" in text
    with pytest.raises(lke_view.ClusterMismatch, match="serves its API at no endpoint"):
        lke_view.check_same_cluster([], "https://x", 7)


def test_node_view_without_a_kubernetes_node():
    view = lke_view.node_view({"id": "7-1", "instance_id": 11, "status": "not_ready"}, None, target="1.34")
    assert view["node_name"] is None and view["ready"] is False and view["at_target"] is False


def test_node_view_joins_what_the_node_shows():
    node = k8s_node("lke7-11", 11, kubelet="v1.34.2", unschedulable=True,
                    notes={objects.CORDONED_BY: "run-1", objects.PHASE: "draining"})
    view = lke_view.node_view({"id": "7-1", "instance_id": 11, "status": "ready"}, node, target="1.34")
    assert view == {"id": "7-1", "instance_id": 11, "status": "ready", "node_name": "lke7-11",
                    "kubelet_version": "v1.34.2", "ready": True, "unschedulable": True, "cordoned_by_us": True,
                    "cordoned_by": "run-1", "phase": "draining", "at_target": True}
    assert "at_target" not in lke_view.node_view({"id": "7-1"}, node)


def test_cluster_view_joins_pools_to_nodes_and_lists_strays():
    fake = Fake(pools=[{"id": 102, "type": "g6-standard-4", "count": 1,
                        "nodes": [{"id": "7-3", "instance_id": 13, "status": "ready"}]},
                       {"id": 101, "type": "g6-standard-2", "count": 2, "autoscaler": {"enabled": False},
                        "nodes": [{"id": "7-2", "instance_id": 12, "status": "ready"},
                                  {"id": "7-1", "instance_id": 11, "status": "ready"}]}],
                nodes=[k8s_node("lke7-12", 12), k8s_node("lke7-11", 11, kubelet="v1.34.0"),
                       k8s_node("stray", 99), k8s_node("kind-node", 0, provider="kind://docker/x")])
    view = lke_view.cluster_view(fake, fake, target="1.34")
    assert [p["id"] for p in view["pools"]] == [101, 102]
    pool = view["pools"][0]
    assert [n["node_name"] for n in pool["nodes"]] == ["lke7-11", "lke7-12"]  # sorted by node name
    assert [n["at_target"] for n in pool["nodes"]] == [True, False]
    assert view["pools"][1]["nodes"][0]["node_name"] is None  # its Node has not joined
    assert view["pools"][1]["autoscaler"] == {} and view["pools"][1]["labels"] == {}
    assert view["nodes_not_in_pools"] == ["kind-node", "stray"]
    assert "secret" not in view["cluster"] and view["cluster"]["k8s_version"] == "1.33"
    assert view["versions"] == ["1.33", "1.34"] and len(view["k8s_nodes"]) == 4


def test_cluster_view_without_kubernetes():
    fake = Fake(pools=[{"id": 101, "count": 1, "nodes": [{"id": "7-1", "instance_id": 11}]}], nodes=[])
    view = lke_view.cluster_view(fake, None)
    assert view["pools"][0]["nodes"][0]["node_name"] is None and view["nodes_not_in_pools"] == []


def test_find_pool_names_the_pools_there_are():
    view = {"cluster": {"id": 7}, "pools": [{"id": 101}, {"id": 102}]}
    assert lke_view.find_pool(view, "102") == {"id": 102}
    with pytest.raises(RunbookError, match="pool 5 is not in cluster 7; pools: 101, 102"):
        lke_view.find_pool(view, 5)
    with pytest.raises(RunbookError, match="pools: none"):
        lke_view.find_pool({"cluster": {"id": 7}, "pools": []}, 5)
