import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.responder import fencing

from responder_fixtures import FakeLKE, node


@pytest.mark.parametrize("instances, pools, verdict, fenced", [
    ({}, [11], "deleted", True),                                       # 404, LKE has not replaced it yet
    ({}, [12], "replaced", True),                                      # 404, the pool lists another instance
    ({11: {"status": "offline", "lke_cluster_id": 314159}}, [11], "offline", True),
    ({11: {"status": "running", "lke_cluster_id": 314159}}, [11], "running", False),   # a partition
    ({11: {"status": "shutting_down", "lke_cluster_id": 314159}}, [11], "running", False),
    ({11: {"status": "offline", "lke_cluster_id": 999}}, [11], "foreign", False),
])
def test_only_a_gone_or_powered_off_instance_is_fenced(instances, pools, verdict, fenced):
    result = fencing.fence(FakeLKE(instances, pools), node("a", "Unknown", instance=11))
    assert (result["verdict"], result["fenced"]) == (verdict, fenced)
    assert result["instance_id"] == 11


def test_an_api_that_fails_past_its_deadline_means_could_not_confirm():
    result = fencing.fence(FakeLKE(fail="HTTP 503: try later"), node("a", "Unknown", instance=11))
    assert result["verdict"] == "unknown" and not result["fenced"]
    assert result["reason"].startswith("could not confirm, did nothing")


def test_a_node_without_a_linode_instance_is_never_fenced():
    lke = FakeLKE()
    result = fencing.fence(lke, node("a", "Unknown"))
    assert result["verdict"] == "no_instance" and not result["fenced"]
    assert lke.calls == 0
