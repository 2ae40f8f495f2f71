"""The simulator's LKE behaviour, driven through linode_api4 (only base_url changed)."""

import pytest
from linode_api4 import ApiError
from linode_api4.objects import LKECluster

from linodesim.cloud import DEFAULT_CONFIG

CID = DEFAULT_CONFIG["cluster_id"]


def _cluster(client):
    return client.load(LKECluster, CID)


def _nodes(client):
    return [n for p in _cluster(client).pools for n in p.nodes]


def test_versions_and_seeded_cluster_one_minor_below_newest(client):
    versions = [v.id for v in client.lke.versions()]
    assert versions == ["1.33", "1.34", "1.35"]
    (cluster,) = list(client.lke.clusters())
    assert cluster.id == CID and cluster.label == "lab"
    assert cluster.k8s_version.id == "1.34"
    assert cluster.region.id == "us-ord"
    (pool,) = cluster.pools
    assert pool.count == 3 and len(pool.nodes) == 3
    assert all(n.status == "ready" and isinstance(n.instance_id, int) for n in pool.nodes)
    assert all(n.id.startswith("%d-" % pool.id) and len(n.id.split("-")[1]) == 10
               for n in pool.nodes)


def test_control_plane_upgrade_one_minor_only(client, sim):
    cluster = _cluster(client)
    cluster.k8s_version = "1.35"
    with pytest.raises(ApiError) as err:
        # two steps from 1.34 is refused, nothing changes
        cluster_two = _cluster(client)
        cluster_two.k8s_version = "1.36"
        cluster_two.save()
    assert err.value.status == 400
    assert _cluster(client).k8s_version.id == "1.34"
    cluster.save()
    assert _cluster(client).k8s_version.id == "1.35"
    # existing nodes keep their kubelet until recycled
    assert {spec["kubelet_version"] for spec in sim.backend.nodes.values()} == {"v1.34.6"}


def test_linode_api4_upgrade_from_133_refuses_135_accepts_134(client, sim):
    sim.cloud.reset({"k8s_version": "1.33"}, instant=True)
    cluster = _cluster(client)
    cluster.k8s_version = "1.35"
    with pytest.raises(ApiError) as err:
        cluster.save()
    assert err.value.status == 400 and "one minor version at a time" in str(err.value)
    cluster.invalidate()
    cluster.k8s_version = "1.34"
    cluster.save()
    assert _cluster(client).k8s_version.id == "1.34"


def test_upgrade_refuses_skipping_and_downgrade(sim):
    cloud = sim.cloud
    cloud.data["versions"].append("1.36")
    from linodesim.store import ApiError as SimError
    with pytest.raises(SimError, match="one minor version at a time"):
        cloud.update_cluster(CID, {"k8s_version": "1.36"})
    with pytest.raises(SimError, match="Downgrading"):
        cloud.update_cluster(CID, {"k8s_version": "1.33"})
    assert cloud.cluster_view(CID)["k8s_version"] == "1.34"


def test_pool_resize_creates_and_removes_nodes(client, sim):
    pool = _cluster(client).pools[0]
    pool.count = 5
    pool.save()
    pool.invalidate()
    assert pool.count == 5
    new = [n for n in pool.nodes if n.instance_id is None]
    assert len(new) == 2 and all(n.status == "not_ready" for n in new)
    assert len(sim.backend.nodes) == 3
    sim.advance(sim.cloud.delay("NODE_PROVISION_SECONDS"))
    pool.invalidate()
    assert all(n.status == "ready" for n in pool.nodes)
    assert len(sim.backend.nodes) == 5
    spec = next(s for s in sim.backend.nodes.values())
    assert spec["labels"]["lke.linode.com/pool-id"] == str(pool.id)
    assert spec["labels"]["node.kubernetes.io/instance-type"] == "g6-standard-4"
    assert spec["labels"]["topology.kubernetes.io/region"] == "us-ord"
    assert spec["provider_id"].startswith("linode://")
    # shrinking removes the newest nodes and their Nodes at once
    pool.count = 3
    pool.save()
    sim.advance(0)
    pool.invalidate()
    assert len(pool.nodes) == 3 and len(sim.backend.nodes) == 3
    ids = {int(s["provider_id"].split("//")[1]) for s in sim.backend.nodes.values()}
    assert ids == {n.instance_id for n in pool.nodes}


def test_node_recycle_replaces_instance_and_node_with_new_version(client, sim):
    cluster = _cluster(client)
    cluster.k8s_version = "1.35"
    cluster.save()
    node = _nodes(client)[0]
    old_name = next(n for n, s in sim.backend.nodes.items()
                    if s["provider_id"] == "linode://%d" % node.instance_id)
    cluster.node_recycle(node.id)
    sim.advance(0)
    now = cluster.node_view(node.id)
    assert now.status == "not_ready" and now.instance_id is None
    assert old_name not in sim.backend.nodes
    assert ("stop_heartbeat", old_name) in sim.backend.calls
    with pytest.raises(ApiError) as err:
        cluster.node_recycle(node.id)
    assert err.value.status == 409
    sim.advance(sim.cloud.delay("NODE_RECYCLE_SECONDS"))
    after = cluster.node_view(node.id)
    assert after.status == "ready" and after.instance_id not in (None, node.instance_id)
    spec = next(s for s in sim.backend.nodes.values()
                if s["provider_id"] == "linode://%d" % after.instance_id)
    assert spec["kubelet_version"] == "v1.35.4"
    assert len(sim.backend.nodes) == 3


def test_pool_recycle_is_rolling(client, sim):
    pool = _cluster(client).pools[0]
    before = {n.instance_id for n in pool.nodes}
    pool.recycle()
    sim.advance(0)
    statuses = [n.status for n in _cluster(client).pools[0].nodes]
    assert statuses.count("not_ready") == 1
    for _ in range(3):
        sim.advance(sim.cloud.delay("NODE_RECYCLE_SECONDS") + 1.0)
    nodes = _cluster(client).pools[0].nodes
    assert all(n.status == "ready" for n in nodes)
    assert not before & {n.instance_id for n in nodes}


def test_delete_instance_stops_heartbeat_then_lke_replaces_it(client, sim):
    node = _nodes(client)[1]
    name = next(n for n, s in sim.backend.nodes.items()
                if s["provider_id"] == "linode://%d" % node.instance_id)
    client.load(__import__("linode_api4").Instance, node.instance_id).delete()
    sim.advance(0)
    assert sim.backend.nodes[name]["heartbeat"] is False   # Node kept, goes NotReady
    view = _cluster(client).node_view(node.id)
    assert view.status == "not_ready" and view.instance_id is None
    with pytest.raises(ApiError) as err:
        client.load(__import__("linode_api4").Instance, node.instance_id).label  # noqa: B018
    assert err.value.status == 404
    sim.advance(sim.cloud.delay("NODE_REPLACE_SECONDS"))
    assert name not in sim.backend.nodes
    view = _cluster(client).node_view(node.id)
    assert view.status == "ready" and view.instance_id != node.instance_id
    assert len(sim.backend.nodes) == 3


def test_node_delete_shrinks_pool(client, sim):
    cluster = _cluster(client)
    node = cluster.pools[0].nodes[0]
    cluster.node_delete(node.id)
    sim.advance(0)
    pool = _cluster(client).pools[0]
    assert pool.count == 2 and node.id not in {n.id for n in pool.nodes}
    assert len(sim.backend.nodes) == 2


def test_pool_create_and_delete(client, sim):
    cluster = _cluster(client)
    pool = cluster.node_pool_create("g6-standard-2", 2, labels={"role": "surge"},
                                    taints=[{"key": "surge", "value": "1",
                                             "effect": "NoSchedule"}])
    sim.advance(sim.cloud.delay("NODE_PROVISION_SECONDS"))
    assert len(sim.backend.nodes) == 5
    surge = [s for s in sim.backend.nodes.values() if s["labels"].get("role") == "surge"]
    assert len(surge) == 2
    with pytest.raises(ApiError) as err:
        cluster.node_pool_create("g9-huge", 1)
    assert err.value.status == 400 and "type" in str(err.value)
    pool.delete()
    sim.advance(0)
    assert len(sim.backend.nodes) == 3


def test_power_actions_toggle_heartbeat(client, sim):
    from linode_api4 import Instance
    node = _nodes(client)[0]
    inst = client.load(Instance, node.instance_id)
    name = inst.label
    inst.shutdown()
    sim.advance(sim.cloud.delay("NODE_SHUTDOWN_SECONDS"))
    assert client.load(Instance, node.instance_id).status == "offline"
    assert sim.backend.nodes[name]["heartbeat"] is False
    assert _cluster(client).node_view(node.id).status == "not_ready"
    inst.boot()
    sim.advance(sim.cloud.delay("NODE_BOOT_SECONDS"))
    assert client.load(Instance, node.instance_id).status == "running"
    assert sim.backend.nodes[name]["heartbeat"] is True
    assert _cluster(client).node_view(node.id).status == "ready"


def test_kubeconfig_and_api_endpoints(client, sim, tmp_path):
    import base64
    cluster = _cluster(client)
    text = base64.b64decode(cluster.kubeconfig).decode()
    assert text.startswith("apiVersion: v1")
    assert [e.endpoint for e in cluster.api_endpoints] == ["https://127.0.0.1:16443"]
    (tmp_path / "kubeconfig").unlink()
    cluster.invalidate()
    with pytest.raises(ApiError) as err:
        _ = cluster.kubeconfig
    assert err.value.status == 503


def test_state_survives_restart_with_pending_work(client, sim, tmp_path):
    from simharness import start_sim
    pool = _cluster(client).pools[0]
    pool.count = 4
    pool.save()
    sim.server.shutdown()
    again = start_sim(tmp_path / "state.json")
    try:
        again.clock.now = sim.clock.now
        cloud = again.cloud
        assert cloud.pool_get(CID, pool.id)["count"] == 4
        assert [t["kind"] for t in cloud.data["tasks"]] == ["provision"]
        again.advance(cloud.delay("NODE_PROVISION_SECONDS"))
        assert all(n["status"] == "ready" for n in cloud.pool_get(CID, pool.id)["nodes"])
    finally:
        again.server.shutdown()


def test_pool_label_and_taint_changes_reach_existing_nodes(client, sim):
    pool = _cluster(client).pools[0]
    pool.labels = {"tier": "web"}
    pool.taints = [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
    pool.save()
    sim.advance(0)
    for spec in sim.backend.nodes.values():
        assert spec["labels"]["tier"] == "web"
        assert spec["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
    pool.labels = {}
    pool.taints = []
    pool.save()
    sim.advance(0)
    for spec in sim.backend.nodes.values():
        assert "tier" not in spec["labels"] and spec["taints"] == []


def test_node_actions_wait_for_the_cluster_and_keep_their_order(sim):
    """While the lab's API server is down, Node actions queue up; they run in order later."""
    backend = sim.backend
    real_create = backend.create
    broken = {"on": True, "resets": 0}

    def create(spec):
        if broken["on"]:
            raise ConnectionError("connection refused")
        real_create(spec)

    backend.create = create
    backend.reset_client = lambda: broken.__setitem__("resets", broken["resets"] + 1)
    pool = sim.cloud.pools_list(CID)[0]
    with sim.cloud.lock:
        sim.cloud.update_pool(CID, pool["id"], {"count": 4})
    for _ in range(6):
        sim.advance(sim.cloud.delay("NODE_PROVISION_SECONDS"))
    assert sim.cloud.failures >= 5 and broken["resets"] >= 1
    new = sim.cloud.pool_get(CID, pool["id"])["nodes"][-1]
    assert new["status"] == "not_ready" and new["instance_id"] is not None
    with sim.cloud.lock:   # shrink again while the new Node is still waiting to be created
        sim.cloud.update_pool(CID, pool["id"], {"count": 3})
    broken["on"] = False
    sim.advance(0)
    assert sim.cloud.failures == 0 and sim.cloud.pending() == 0
    assert len(backend.nodes) == 3
    names = [c[1] for c in backend.calls]
    created = [c[1] for c in backend.calls if c[0] == "create"][-1]
    assert names.index(created) < len(names) - 1 and backend.calls[-1] == ("delete", created)


def test_control_plane_update_enables_ha_once(client):
    cluster = _cluster(client)
    cluster.control_plane = {"high_availability": True, "audit_logs_enabled": True}
    cluster.save()
    cp = _cluster(client).control_plane
    assert cp.high_availability is True and cp.audit_logs_enabled is True
    cluster = _cluster(client)
    cluster.control_plane = {"high_availability": False}
    with pytest.raises(ApiError) as err:
        cluster.save()
    assert err.value.status == 400 and "High availability" in str(err.value)


def test_reconcile_deletes_only_its_own_stray_nodes(sim):
    """Another simulator's cluster may share the lab's API server (the benchmark's private one):
    reconcile must leave its Nodes alone, and still delete this cluster's strays."""
    backend = sim.backend
    ours = set(backend.nodes)
    cluster_id = next(iter(sim.cloud.data["clusters"]))
    backend.nodes["lke999001-5-aaaa1111"] = {"name": "lke999001-5-aaaa1111", "heartbeat": True}
    backend.nodes["lke%s-1-deadbeef" % cluster_id] = {"name": "stray", "heartbeat": True}
    backend.calls.clear()
    sim.cloud.reconcile()
    sim.cloud.run_due()
    deleted = [name for verb, name in backend.calls if verb == "delete"]
    assert deleted == ["lke%s-1-deadbeef" % cluster_id]
    assert "lke999001-5-aaaa1111" in backend.nodes and ours <= set(backend.nodes)
