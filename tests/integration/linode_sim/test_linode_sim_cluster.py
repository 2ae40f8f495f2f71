"""Through linode_api4 against the simulator, watching the lab's real cluster react."""

import pytest
from linode_api4 import ApiError, Instance

from simlab import lke_nodes, node_by_instance, node_ready, wait_for


def test_versions_and_one_minor_upgrade(lab_cluster, linode):
    versions = [v.id for v in linode.lke.versions()]
    assert lab_cluster.k8s_version.id == versions[-2]
    target = versions[-1]
    # two minors at once is refused and changes nothing
    lab_cluster.k8s_version = "1.%d" % (int(versions[-2].split(".")[1]) + 2)
    with pytest.raises(ApiError) as err:
        lab_cluster.save()
    assert err.value.status == 400
    lab_cluster.invalidate()
    assert lab_cluster.k8s_version.id == versions[-2]
    lab_cluster.k8s_version = target
    lab_cluster.save()
    lab_cluster.invalidate()
    assert lab_cluster.k8s_version.id == target


def test_pool_resize_adds_and_removes_nodes(lab_cluster, k8s_api):
    core, _ = k8s_api
    pool = lab_cluster.pools[0]
    before = {n.instance_id for n in pool.nodes}
    pool.count = pool.count + 1
    pool.save()
    pool.invalidate()
    (new,) = [n for n in pool.nodes if n.instance_id not in before]
    assert new.status == "not_ready"

    def joined():
        pool.invalidate()
        node = [n for n in pool.nodes if n.id == new.id][0]
        if node.status != "ready":
            return None
        k8s = node_by_instance(core, node.instance_id)
        return k8s if k8s is not None and node_ready(k8s) == "True" else None

    k8s_node = wait_for("the new pool node to be a Ready Node", joined, timeout=60)
    labels = k8s_node.metadata.labels
    assert labels["lke.linode.com/pool-id"] == str(pool.id)
    assert labels["node.kubernetes.io/instance-type"] == pool.type.id
    assert labels["topology.kubernetes.io/region"] == lab_cluster.region.id

    pool.count = pool.count - 1
    pool.save()
    wait_for("the removed node's Node to be deleted",
             lambda: k8s_node.metadata.name not in lke_nodes(core), timeout=30)
    pool.invalidate()
    assert len(pool.nodes) == pool.count


def test_node_recycle_replaces_node_with_new_kubelet(lab_cluster, linode, k8s_api):
    core, _ = k8s_api
    lab_cluster.invalidate()
    target = lab_cluster.k8s_version.id      # upgraded by the first test (or still the seed)
    node = lab_cluster.pools[0].nodes[-1]
    old = node_by_instance(core, node.instance_id)
    assert old is not None
    lab_cluster.node_recycle(node.id)
    assert lab_cluster.node_view(node.id).status == "not_ready"

    def replaced():
        view = lab_cluster.node_view(node.id)
        if view.status != "ready" or view.instance_id in (None, node.instance_id):
            return None
        k8s = node_by_instance(core, view.instance_id)
        return k8s if k8s is not None and node_ready(k8s) == "True" else None

    new = wait_for("the recycled node to come back", replaced, timeout=90)
    assert new.status.node_info.kubelet_version.startswith("v%s." % target)
    assert old.metadata.name not in lke_nodes(core)
    assert new.spec.provider_id != old.spec.provider_id


def test_deleted_instance_goes_notready_then_is_replaced(lab_cluster, linode, k8s_api):
    core, _ = k8s_api
    node = lab_cluster.pools[0].nodes[0]
    victim = node_by_instance(core, node.instance_id)
    linode.load(Instance, node.instance_id).delete()
    with pytest.raises(ApiError):
        linode.load(Instance, node.instance_id).label  # noqa: B018 - the VM is gone
    # the real node-lifecycle controller notices the missing heartbeat
    wait_for("Node %s NotReady" % victim.metadata.name, lambda: (
        node_ready(core.read_node(victim.metadata.name)) in ("Unknown", "False")), timeout=90)
    assert lab_cluster.node_view(node.id).status == "not_ready"

    def replaced():
        view = lab_cluster.node_view(node.id)
        if view.status != "ready" or view.instance_id is None:
            return None
        k8s = node_by_instance(core, view.instance_id)
        return k8s if k8s is not None and node_ready(k8s) == "True" else None

    wait_for("LKE's replacement Node", replaced, timeout=180)
    assert victim.metadata.name not in lke_nodes(core)


def test_pool_labels_and_taints_reach_the_nodes(lab_cluster, k8s_api):
    core, _ = k8s_api
    pool = lab_cluster.pools[0]
    key = "lab.fournines.io/test-pool-meta"
    pool.labels = {key: "yes"}
    pool.taints = [{"key": key, "value": "yes", "effect": "PreferNoSchedule"}]
    pool.save()

    def applied(want):
        nodes = [n for n in lke_nodes(core).values()
                 if n.metadata.labels.get("lke.linode.com/pool-id") == str(pool.id)]
        has = [(n.metadata.labels.get(key) == "yes",
                any(t.key == key for t in n.spec.taints or [])) for n in nodes]
        return bool(nodes) and all(h == (want, want) for h in has)

    wait_for("pool label and taint on every Node", lambda: applied(True), timeout=30)
    pool.labels = {}
    pool.taints = []
    pool.save()
    wait_for("pool label and taint gone from every Node", lambda: applied(False), timeout=30)
