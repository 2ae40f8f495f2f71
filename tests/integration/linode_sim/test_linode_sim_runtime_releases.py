"""Releases and clusters appear while the lab runs (the autopilot's tests): a node patch level reaches the
real Node of a recycled node only; a second LKE cluster's Nodes join the lab's API server and leave with it."""

from simlab import lke_nodes, node_by_instance, node_ready, wait_for

SECOND = {"cluster_id": 314199, "label": "release-test",
          "pools": [{"type": "g6-standard-1", "count": 1, "labels": {"lab.fournines.io/cluster": "release-test"},
                     "taints": [{"key": "lab.fournines.io/cluster", "value": "release-test", "effect": "NoExecute"}]}]}


def test_a_released_patch_reaches_only_a_recycled_node(lab_cluster, sim_admin, k8s_api):
    core, _ = k8s_api
    offered = sim_admin.call("GET", "/versions")
    minor = lab_cluster.k8s_version.id
    old = offered["patches"][minor]
    newer = "%s.%d" % (minor, int(old.split(".")[2]) + 1)
    sim_admin.call("POST", "/patches", {"version": minor, "patch": newer})
    lab_cluster.invalidate()
    nodes = lab_cluster.pools[0].nodes
    others = [node_by_instance(core, n.instance_id).metadata.name for n in nodes[:-1]]
    node = nodes[-1]
    lab_cluster.node_recycle(node.id)

    def replaced():
        view = lab_cluster.node_view(node.id)
        if view.status != "ready" or view.instance_id in (None, node.instance_id):
            return None
        k8s = node_by_instance(core, view.instance_id)
        return k8s if k8s is not None and node_ready(k8s) == "True" else None

    new = wait_for("the recycled node to come back", replaced, timeout=90)
    assert new.status.node_info.kubelet_version == "v" + newer
    current = lke_nodes(core)
    assert {current[name].status.node_info.kubelet_version for name in others} == {"v" + old}


def test_a_second_cluster_joins_the_lab_api_server_and_leaves(lab_cluster, linode, sim_admin, k8s_api):
    core, _ = k8s_api
    added = sim_admin.call("POST", "/clusters", SECOND)
    assert added["added"] is True
    try:
        prefix = "lke%d-" % SECOND["cluster_id"]
        joined = wait_for("the second cluster's Node to be Ready with its pool's taint", lambda: [
            n for name, n in lke_nodes(core).items() if name.startswith(prefix) and node_ready(n) == "True"
            and [t.key for t in n.spec.taints or []] == ["lab.fournines.io/cluster"]], timeout=60)
        (node,) = joined
        assert node.metadata.labels["lab.fournines.io/cluster"] == "release-test"
        assert not [n for n in lke_nodes(core) if n.startswith(prefix) and n != node.metadata.name]
    finally:
        sim_admin.call("DELETE", "/clusters/%d" % SECOND["cluster_id"])
    wait_for("the second cluster's Nodes to go", lambda: not [
        n for n in lke_nodes(core) if n.startswith("lke%d-" % SECOND["cluster_id"])], timeout=60)
    assert [c.label for c in linode.lke.clusters()] == ["lab"]
