import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.capacity import fits, node_free, pod_requests, quantity
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError


@pytest.mark.parametrize("text,value", [
    ("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("128Mi", 128 * 2 ** 20), ("1G", 1e9), ("1Gi", 2 ** 30), (None, 0.0), (3, 3.0),
])
def test_quantity(text, value):
    assert quantity(text) == pytest.approx(value)


def test_quantity_rejects():
    with pytest.raises(RunbookError, match="not a Kubernetes resource quantity"):
        quantity("12 parsecs")


def pod(cpu, mem, init=None, phase="Running"):
    spec = {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": mem}}}]}
    if init:
        spec["initContainers"] = [{"resources": {"requests": {"cpu": init[0], "memory": init[1]}}}]
    return {"spec": spec, "status": {"phase": phase}}


def test_pod_requests_uses_larger_init_container():
    req = pod_requests(pod("100m", "64Mi", init=("1", "32Mi")))
    assert req["cpu"] == pytest.approx(1.0)
    assert req["memory"] == pytest.approx(64 * 2 ** 20)
    assert req["pods"] == 1


def test_node_free_ignores_finished_pods():
    node = {"status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}
    free = node_free(node, [pod("500m", "1Gi"), pod("1", "1Gi", phase="Succeeded")])
    assert free["cpu"] == pytest.approx(1.5)
    assert free["memory"] == pytest.approx(3 * 2 ** 30)
    assert free["pods"] == 109


def test_fits_first_fit_decreasing():
    free = {"a": {"cpu": 1.0, "memory": 1e9, "pods": 10}, "b": {"cpu": 0.5, "memory": 1e9, "pods": 10}}
    pods = [dict(cpu=0.5, memory=1e8, pods=1, name="p1"), dict(cpu=1.0, memory=1e8, pods=1, name="p2")]
    assert fits(pods, free) == (True, [])
    pods.append(dict(cpu=0.2, memory=1e8, pods=1, name="p3"))
    ok, unplaced = fits(pods, free)
    assert not ok and unplaced == ["p3"]
    assert free["a"]["cpu"] == 1.0  # input untouched
