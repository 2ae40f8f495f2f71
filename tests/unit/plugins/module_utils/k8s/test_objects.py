"""k8s/objects.py: readiness, selectors and PDBs, volumes of pods, and cordoning only what this collection cordoned."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects


def pod(name, ns="app", labels=None, owner_kind="ReplicaSet", phase="Running", volumes=None, annotations=None):
    meta = {"name": name, "namespace": ns, "uid": name + "-uid", "labels": labels or {}, "annotations": annotations or {}}
    if owner_kind:
        meta["ownerReferences"] = [{"kind": owner_kind, "name": "owner", "controller": True, "uid": "o"}]
    return {"metadata": meta, "spec": {"nodeName": "n1", "volumes": volumes or []}, "status": {"phase": phase}}


def pdb(name, ns, match, allowed, expected, desired):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"matchLabels": match}},
            "status": {"disruptionsAllowed": allowed, "expectedPods": expected, "desiredHealthy": desired,
                       "currentHealthy": expected}}


@pytest.mark.parametrize("selector,labels,ok", [
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
    ({}, {"a": "1"}, True),
    (None, {"a": "1"}, False),
])
def test_selector(selector, labels, ok):
    assert objects.selector_matches(selector, labels) is ok


def test_pdb_never_allows_distinguishes_static_from_transient():
    assert objects.pdb_never_allows(pdb("legacy", "blocked", {}, 0, 2, 2))       # maxUnavailable 0
    assert not objects.pdb_never_allows(pdb("api", "app", {}, 0, 3, 2))          # a pod is unhealthy now: may open up
    assert not objects.pdb_never_allows(pdb("api", "app", {}, 1, 3, 2))
    assert not objects.pdb_never_allows(pdb("empty", "app", {}, 0, 0, 0))        # protects nothing


def test_local_volumes_and_claims():
    p = pod("x", volumes=[{"name": "cache", "emptyDir": {}}, {"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
                          {"name": "host", "hostPath": {"path": "/x"}}])
    assert objects.local_volumes(p) == ["cache", "host"]
    assert objects.pvc_claims(p) == ["d"]


def test_readiness():
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}, "metadata": {}}
    assert objects.pod_ready(ready)
    ready["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not objects.pod_ready(ready)
    assert objects.node_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not objects.node_ready({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})


class FakeKube(object):
    def __init__(self, nodes):
        self.nodes_ = nodes
        self.patches = []

    def node(self, name):
        return self.nodes_.get(name)

    def patch_node(self, name, patch):
        self.patches.append((name, patch))


def node(unschedulable=False, notes=None):
    return {"metadata": {"name": "n1", "annotations": dict(notes or {})},
            "spec": {"unschedulable": True} if unschedulable else {}}


def test_cordon_marks_the_node_as_ours():
    kube = FakeKube({"n1": node()})
    assert objects.cordon(kube, "n1", "run-7") is True
    assert kube.patches == [("n1", {"spec": {"unschedulable": True},
                                    "metadata": {"annotations": {objects.CORDONED_BY: "run-7"}}})]


def test_a_node_cordoned_by_someone_else_is_left_unmarked():
    kube = FakeKube({"n1": node(unschedulable=True)})
    assert objects.cordon(kube, "n1", "run-7") is False and kube.patches == []


def test_cordon_of_a_missing_node_names_it():
    with pytest.raises(objects.K8sError, match="node 'ghost' does not exist"):
        objects.cordon(FakeKube({}), "ghost", "run-7")


def test_uncordon_only_what_we_cordoned_unless_forced():
    kube = FakeKube({"n1": node(unschedulable=True)})
    assert objects.uncordon(kube, "n1") is False and kube.patches == []
    assert objects.uncordon(kube, "n1", force=True) is True
    kube = FakeKube({"n1": node(unschedulable=True, notes={objects.CORDONED_BY: "run-7", objects.PHASE: "drained"})})
    assert objects.uncordon(kube, "n1") is True
    assert kube.patches == [("n1", {"metadata": {"annotations": {objects.CORDONED_BY: None, objects.PHASE: None}},
                                    "spec": {"unschedulable": None}})]
    assert objects.uncordon(FakeKube({}), "gone") is False  # a vanished node is not an error


def test_who_cordoned():
    assert objects.cordoned_by(node(notes={objects.CORDONED_BY: "run-7"})) == "run-7"
    assert objects.cordoned_by(node()) is None and not objects.cordoned_by_us(None)
    assert objects.kubelet_version({"status": {"nodeInfo": {"kubeletVersion": "v1.34.1"}}}) == "v1.34.1"
    assert objects.kubelet_version(None) is None
