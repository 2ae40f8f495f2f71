"""New LKE versions and node patch levels offered while the simulator runs (admin endpoint),
seen through /v4 as linode_api4 sees it; the nodes already there keep their kubelet."""

import pytest
from linode_api4 import ApiError
from linode_api4.objects import LKECluster

from linodesim.cloud import DEFAULT_CONFIG
from test_linode_sim_http import call

CID = DEFAULT_CONFIG["cluster_id"]


def _kubelets(sim):
    return sorted(spec["kubelet_version"] for spec in sim.backend.nodes.values())


def test_a_new_minor_appears_in_lke_versions_and_can_be_upgraded_to(client, sim):
    cluster = client.load(LKECluster, CID)
    cluster.k8s_version = "1.35"
    cluster.save()
    status, body, _ = call(sim, "POST", "/versions", {"version": "1.36", "patch": "1.36.2"},
                           admin=True)
    assert status == 200 and body["changed"] is True
    assert [v.id for v in client.lke.versions()] == ["1.33", "1.34", "1.35", "1.36"]
    assert body["patches"]["1.36"] == "1.36.2"
    # the same call again changes nothing
    assert call(sim, "POST", "/versions", {"version": "1.36"}, admin=True)[1]["changed"] is False
    cluster.invalidate()
    cluster.k8s_version = "1.36"
    cluster.save()
    assert client.load(LKECluster, CID).k8s_version.id == "1.36"
    node = cluster.pools[0].nodes[0]
    cluster.node_recycle(node.id)
    sim.advance(0)
    sim.advance(sim.cloud.delay("NODE_RECYCLE_SECONDS"))
    assert _kubelets(sim) == ["v1.34.6", "v1.34.6", "v1.36.2"]


def test_a_new_patch_level_reaches_only_new_and_recycled_nodes(client, sim):
    status, body, _ = call(sim, "POST", "/patches", {"version": "1.34", "patch": "1.34.7"},
                           admin=True)
    assert status == 200 and body["changed"] is True
    assert body["clusters"][str(CID)]["patch"] == "1.34.7"
    assert {n["kubelet"] for n in body["clusters"][str(CID)]["nodes"]} == {"1.34.6"}
    assert _kubelets(sim) == ["v1.34.6"] * 3
    # a restart's reconcile re-creates Nodes with the kubelet they had, not the new patch
    sim.backend.nodes.clear()
    sim.cloud.reconcile()
    sim.advance(0)
    assert _kubelets(sim) == ["v1.34.6"] * 3
    cluster = client.load(LKECluster, CID)
    cluster.node_recycle(cluster.pools[0].nodes[0].id)
    sim.advance(0)
    sim.advance(sim.cloud.delay("NODE_RECYCLE_SECONDS"))
    assert _kubelets(sim) == ["v1.34.6", "v1.34.6", "v1.34.7"]
    pool = cluster.pools[0]
    pool.count = 4
    pool.save()
    sim.advance(sim.cloud.delay("NODE_PROVISION_SECONDS"))
    assert _kubelets(sim) == ["v1.34.6", "v1.34.6", "v1.34.7", "v1.34.7"]
    listed = call(sim, "GET", "/versions", admin=True)[1]
    assert sorted(n["kubelet"] for n in listed["clusters"][str(CID)]["nodes"]) == [
        "1.34.6", "1.34.6", "1.34.7", "1.34.7"]
    # /v4 is unchanged: the versions list has no patch field (LKE standard tier)
    assert [v.id for v in client.lke.versions()] == ["1.33", "1.34", "1.35"]


def test_several_patches_at_once_and_reset_restores_the_seeded_levels(sim):
    status, body, _ = call(sim, "POST", "/patches", {"1.34": "1.34.8", "1.35": "1.35.9"},
                           admin=True)
    assert status == 200 and body["patches"]["1.34"] == "1.34.8"
    assert body["patches"]["1.35"] == "1.35.9"
    call(sim, "POST", "/reset", {}, admin=True)
    assert call(sim, "GET", "/versions", admin=True)[1]["patches"] == DEFAULT_CONFIG["patches"]
    assert DEFAULT_CONFIG["patches"]["1.34"] == "1.34.6"


def test_a_withdrawn_minor_leaves_lke_versions_unless_a_cluster_runs_it(client, sim):
    status, body, _ = call(sim, "DELETE", "/versions/1.34", admin=True)
    assert status == 400 and "lab" in body["errors"][0]["reason"]
    assert call(sim, "DELETE", "/versions/1.33", admin=True)[0] == 200
    assert [v.id for v in client.lke.versions()] == ["1.34", "1.35"]
    with pytest.raises(ApiError) as err:
        client.get("/lke/versions/1.33")
    assert err.value.status == 404


@pytest.mark.parametrize("path,body,field,words", [
    ("/versions", {"version": "1.36.1"}, "version", "minor such as"),
    ("/versions", {"version": "1.36", "patch": "1.35.1"}, "patch", "patch release of 1.36"),
    ("/patches", {"version": "1.40", "patch": "1.40.1"}, "version", "not offered"),
    ("/patches", {"version": "1.34", "patch": "1.34"}, "patch", "patch release of 1.34"),
    ("/patches", {"1.34": "1.34.9", "1.35": "2.0.0"}, "patch", "patch release of 1.35"),
    ("/patches", {}, None, "give"),
])
def test_bad_release_input_is_refused_and_changes_nothing(sim, path, body, field, words):
    before = call(sim, "GET", "/versions", admin=True)[1]
    status, answer, _ = call(sim, "POST", path, body, admin=True)
    assert status == 400
    err = answer["errors"][0]
    assert words in err["reason"] and err.get("field") == field
    assert call(sim, "GET", "/versions", admin=True)[1] == before


STAGING = {"cluster_id": 314160, "label": "staging",
           "pools": [{"type": "g6-standard-2", "count": 2,
                      "labels": {"lab.fournines.io/cluster": "staging"},
                      "taints": [{"key": "lab.fournines.io/cluster", "value": "staging",
                                  "effect": "NoSchedule"}]}]}


def test_a_second_cluster_for_fleets_is_added_and_removed_at_runtime(client, sim):
    status, body, _ = call(sim, "POST", "/clusters", STAGING, admin=True)
    assert status == 200 and body["added"] is True and body["cluster"]["label"] == "staging"
    assert body["cluster"]["k8s_version"] == "1.34"
    # the same call again changes nothing; another label on that id is refused
    assert call(sim, "POST", "/clusters", STAGING, admin=True)[1]["added"] is False
    assert call(sim, "POST", "/clusters", dict(STAGING, label="other"), admin=True)[0] == 400
    assert call(sim, "POST", "/clusters", dict(STAGING, cluster_id=314161), admin=True)[0] == 400
    assert sorted(c.label for c in client.lke.clusters()) == ["lab", "staging"]
    sim.advance(0)   # the worker creates the Nodes, then the nodes are ready
    staging = client.load(LKECluster, 314160)
    (pool,) = staging.pools
    assert pool.count == 2 and all(n.status == "ready" for n in pool.nodes)
    names = sorted(n for n in sim.backend.nodes if n.startswith("lke314160-"))
    assert len(names) == 2
    spec = sim.backend.nodes[names[0]]
    assert spec["labels"]["lab.fournines.io/cluster"] == "staging"
    assert spec["taints"] == STAGING["pools"][0]["taints"]
    # each cluster upgrades on its own
    staging.k8s_version = "1.35"
    staging.save()
    assert client.load(LKECluster, CID).k8s_version.id == "1.34"
    # a patch level reaches a recycled staging node, not the lab cluster's nodes
    call(sim, "POST", "/patches", {"version": "1.35", "patch": "1.35.5"}, admin=True)
    staging.node_recycle(pool.nodes[0].id)
    sim.advance(0)
    sim.advance(sim.cloud.delay("NODE_RECYCLE_SECONDS"))
    listed = call(sim, "GET", "/versions", admin=True)[1]["clusters"]
    assert sorted(n["kubelet"] for n in listed["314160"]["nodes"]) == ["1.34.6", "1.35.5"]
    assert {n["kubelet"] for n in listed[str(CID)]["nodes"]} == {"1.34.6"}
    # the lab cluster cannot be removed this way; staging goes with its Nodes
    assert call(sim, "DELETE", "/clusters/%d" % CID, admin=True)[0] == 400
    assert call(sim, "DELETE", "/clusters/314160", admin=True)[0] == 200
    sim.advance(0)
    assert [c.label for c in client.lke.clusters()] == ["lab"]
    assert not [n for n in sim.backend.nodes if n.startswith("lke314160-")]
    assert call(sim, "DELETE", "/clusters/314160", admin=True)[0] == 404


def test_a_seed_with_two_clusters_survives_reset(sim):
    call(sim, "POST", "/reset", {"clusters": [STAGING]}, admin=True)
    sim.advance(0)
    assert sorted(c["label"] for c in sim.cloud.clusters_list()) == ["lab", "staging"]
