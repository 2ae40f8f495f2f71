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
