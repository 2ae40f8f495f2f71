import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import blockers, classify


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


def test_classify_skips_daemonsets_mirror_finished():
    pods = [pod("ds", owner_kind="DaemonSet"), pod("mirror", owner_kind=None, annotations={"kubernetes.io/config.mirror": "x"}),
            pod("done", phase="Succeeded"), pod("web")]
    evict, skipped = classify(pods)
    assert [objects.pod_key(p) for p in evict] == ["app/web"]
    assert dict(skipped) == {"app/ds": "DaemonSet pod", "app/mirror": "mirror (static) pod", "app/done": "finished"}


def test_blockers_bare_pod_and_zero_pdb():
    pods = [pod("bare", owner_kind=None), pod("legacy-1", ns="blocked", labels={"app": "legacy"}),
            pod("api-1", labels={"app": "api"})]
    pdbs = [pdb("legacy", "blocked", {"app": "legacy"}, 0, 2, 2), pdb("api", "app", {"app": "api"}, 1, 3, 2)]
    found = blockers(pods, pdbs)
    assert len(found) == 2
    assert any("app/bare has no controller" in f for f in found)
    assert any("blocked/legacy allows 0 disruptions" in f for f in found)
    assert blockers(pods, pdbs, allow_bare=True) == [f for f in found if "bare" not in f]


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
