"""The edge's routing decision (pure logic; the watches are exercised in tests/integration/edge).
Objects are the raw JSON the API server sends."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(REPO, "lab", "edge"))

import edgeserver  # noqa: E402

ROUTES = {"web.lab.fournines.test": {"namespace": "app", "service": "web"}}


class Fixed:
    """A synced informer holding fixed objects."""

    def __init__(self, items):
        self.items = items
        self.synced = type("E", (), {"is_set": staticmethod(lambda: True)})()

    def values(self):
        return self.items


def node(name, ready="True"):
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def slice_(endpoints, service="web", ns="app"):
    return {"metadata": {"name": service + "-abc", "namespace": ns,
                         "labels": {edgeserver.SERVICE_LABEL: service}},
            "addressType": "IPv4", "endpoints": endpoints}


def ep(pod, node_name, ready=True):
    cond = {} if ready is None else {"ready": ready}
    return {"addresses": ["10.244.0.9"], "nodeName": node_name, "conditions": cond,
            "targetRef": {"kind": "Pod", "name": pod}}


def edge_with(slices, nodes, dead=()):
    edge = edgeserver.Edge(ROUTES, latency_ms=0)
    edge.slices, edge.nodes = Fixed(slices), Fixed(nodes)
    edge.dead = set(dead)
    edge.recompute()
    return edge


@pytest.mark.parametrize("ready", [True, None])
def test_ready_endpoint_on_ready_node_is_200(ready):
    edge = edge_with([slice_([ep("web-1", "n1", ready)])], [node("n1")])
    status, reason = edge.answer("web.lab.fournines.test:18081")
    assert status == 200 and "web-1" in reason


@pytest.mark.parametrize("slices,nodes,dead,why", [
    ([], [node("n1")], (), "no endpoints"),
    ([slice_(None)], [node("n1")], (), "no endpoints"),
    ([slice_([ep("web-1", "n1", ready=False)])], [node("n1")], (), "not ready"),
    ([slice_([ep("web-1", "n1")])], [node("n1", "Unknown")], (), "node not Ready"),
    ([slice_([ep("web-1", "n1")])], [], (), "node not Ready"),
    ([slice_([ep("web-1", "n1")])], [node("n1")], ("n1",), "instance down"),
    ([slice_([ep("web-1", "n1")], service="api")], [node("n1")], (), "no endpoints"),
])
def test_no_usable_endpoint_is_503(slices, nodes, dead, why):
    status, reason = edge_with(slices, nodes, dead).answer("web.lab.fournines.test")
    assert status == 503 and why in reason


def test_one_good_endpoint_among_bad_ones_is_enough():
    edge = edge_with([slice_([ep("web-1", "n1"), ep("web-2", "n2")])],
                     [node("n1", "False"), node("n2")])
    assert edge.answer("web.lab.fournines.test")[0] == 200


def test_unknown_host_is_404_and_unsynced_is_503():
    edge = edge_with([], [])
    assert edge.answer("other.test")[0] == 404
    fresh = edgeserver.Edge(ROUTES)
    assert fresh.answer("web.lab.fournines.test")[0] == 503
