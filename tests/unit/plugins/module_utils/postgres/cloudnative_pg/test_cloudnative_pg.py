"""Unit tests for postgres/cloudnative_pg/{cluster,replication,update}.py: a fake Kube that keeps
Clusters and pods as the API server's JSON (the real operator is exercised in
tests/integration/postgres_operator)."""

import copy

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import replication
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import update

OLD, NEW, MAJOR = "lab.local/postgresql:15.18-aaa", "lab.local/postgresql:15.20-bbb", "lab.local/postgresql:17-ccc"


def cnpg(name="pg", image=OLD, ready=2, phase=cluster.HEALTHY_PHASE, primary="pg-1", target="pg-1", labels=None):
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": "shop", "labels": labels or {}},
            "spec": {"instances": 2, "imageName": image, "imagePullPolicy": "Never",
                     "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                     "postgresql": {"parameters": {"max_connections": "30"}},
                     "backup": {"target": "prefer-standby"}},
            "status": {"phase": phase, "readyInstances": ready, "currentPrimary": primary, "targetPrimary": target,
                       "instanceNames": ["pg-1", "pg-2"]}}


def pod(name, image=OLD, ready=True, role="primary", cluster_name="pg"):
    return {"metadata": {"name": name, "labels": {"cnpg.io/cluster": cluster_name, "cnpg.io/podRole": "instance",
                                                  "cnpg.io/instanceRole": role}},
            "spec": {"containers": [{"name": "postgres", "image": image}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class ApiErr(Exception):
    def __init__(self, status, message):
        super(ApiErr, self).__init__(message)
        self.status, self.reason, self.headers = status, "Bad", None
        self.body = '{"message": "%s"}' % message


class FakeKube(object):
    """Clusters by name; PATCH of the image rolls the pods at once (the operator's work, done)."""

    def __init__(self, clusters=(), pods=None, refuse=None):
        self.clusters = dict((c["metadata"]["name"], c) for c in clusters)
        self.pods_by = dict(pods or {})
        self.calls = []
        self.refuse = refuse

    def get(self, path, query=None, ok_missing=False):
        self.calls.append(("GET", path))
        if "/postgresclusters/" in path:
            return None
        return copy.deepcopy(self.clusters.get(path.rsplit("/", 1)[1]))

    def items(self, path, query=None):
        name = query["labelSelector"].split("=", 1)[1]
        return copy.deepcopy(self.pods_by.get(name, []))

    def request(self, method, path, body=None, content_type=None, ok_missing=False, retry_status=True):
        self.calls.append((method, path))
        if self.refuse:
            raise K8sApiError("refused", ApiErr(400, self.refuse))
        if method == "PATCH":
            name = path.rsplit("/", 1)[1]
            self.clusters[name]["spec"].update(body["spec"])
            for p in self.pods_by.get(name, []):
                p["spec"]["containers"][0]["image"] = body["spec"]["imageName"]
            return {}
        if method == "POST":
            obj = copy.deepcopy(body)
            obj["status"] = {"phase": cluster.HEALTHY_PHASE, "readyInstances": 1, "currentPrimary": obj["metadata"]["name"] + "-1",
                             "targetPrimary": obj["metadata"]["name"] + "-1"}
            obj["spec"]["instances"] = 1
            self.clusters[obj["metadata"]["name"]] = obj
            return obj
        if method == "DELETE":
            name = path.rsplit("/", 1)[1]
            self.pods_by.pop(name, None)
            return self.clusters.pop(name, None)
        raise AssertionError(method)


def healthy_kube(image=OLD):
    return FakeKube([cnpg(image=image)], {"pg": [pod("pg-1", image), pod("pg-2", image, role="replica")]})


@pytest.mark.parametrize("image, expected", [
    (OLD, (15, 18)), (MAJOR, (17, None)), ("ghcr.io/cloudnative-pg/postgresql:17.5", (17, 5)),
    ("registry:5000/pg:16.4-bookworm@sha256:abc", (16, 4)),
])
def test_image_version(image, expected):
    assert cluster.image_version(image) == expected


@pytest.mark.parametrize("image, message", [
    ("postgres", "no tag"), ("registry:5000/pg", "no tag"), ("pg:latest", "does not start"), ("pg:9.6", "does not start"),
])
def test_image_version_refuses(image, message):
    with pytest.raises(cluster.CnpgError, match=message):
        cluster.image_version(image)


def test_summarize_healthy_and_problems():
    ok = cluster.summarize(cnpg(), [pod("pg-1"), pod("pg-2", role="replica")], max_lag_bytes=100, lags={"pg-2": 10})
    assert ok["healthy"] and ok["version"] == "15.18" and ok["major"] == 15 and ok["problems"] == []
    bad = cluster.summarize(cnpg(ready=1, phase="Switchover in progress", target="pg-2"),
                            [pod("pg-1"), pod("pg-2", NEW, role="replica")], max_lag_bytes=100,
                            lags={"pg-2": 1000})
    text = "; ".join(bad["problems"])
    assert not bad["healthy"]
    for part in ("phase is 'Switchover in progress'", "1 of 2 instances ready", "switchover or failover",
                 "pods pg-2 do not run", "pg-2 is 1000 bytes behind"):
        assert part in text
    assert "not streaming" in "; ".join(cluster.summarize(cnpg(), [], max_lag_bytes=1, lags={"pg-2": None})["problems"])


def test_summarize_says_whether_the_runbook_can_connect_as_superuser():
    off = cluster.summarize(cnpg(), [pod("pg-1"), pod("pg-2", role="replica")])
    assert off["healthy"] and off["superuser_access"] is False and off["superuser_secret"] == "pg-superuser"
    obj = cnpg()
    obj["spec"].update(enableSuperuserAccess=True, superuserSecret={"name": "team-postgres"})
    on = cluster.summarize(obj, [pod("pg-1"), pod("pg-2", role="replica")])
    assert on["superuser_access"] is True and on["superuser_secret"] == "team-postgres"


def test_canary_body_clones_through_streaming_replica():
    body = cluster.canary_body(cnpg(), "pg-canary", NEW)
    spec = body["spec"]
    assert body["metadata"]["labels"]["fournines.io/canary-of"] == "pg"
    assert spec["bootstrap"] == {"pg_basebackup": {"source": "pg"}}
    ext = spec["externalClusters"][0]
    assert ext["connectionParameters"]["host"] == "pg-rw.shop.svc" and ext["connectionParameters"]["user"] == "streaming_replica"
    assert ext["sslCert"]["name"] == "pg-replication" and ext["sslRootCert"]["name"] == "pg-ca"
    assert spec["imageName"] == NEW and spec["instances"] == 1 and spec["storage"]["storageClass"] == "lab-node-local"
    assert "backup" not in spec and spec["postgresql"]["parameters"] == {"max_connections": "30"}


@pytest.mark.parametrize("lsn, expected", [("0/0", 0), ("1/0", 1 << 32), ("16/B374D848", (0x16 << 32) + 0xB374D848), ("", None)])
def test_lsn_bytes(lsn, expected):
    assert replication.lsn_bytes(lsn) == expected


def test_lags_from_statuses():
    lags = replication.lags_from_statuses({"pg-1": {"currentLsn": "0/3000100"}, "pg-2": {"replayLsn": "0/3000000"},
                                           "pg-3": None}, "pg-1")
    assert lags == {"pg-2": 0x100, "pg-3": None}


@pytest.mark.parametrize("current, target, upgrade, expected", [
    (OLD, NEW, "minor", "upgrade"), (OLD, OLD, "minor", "noop"), (OLD, MAJOR, "major", "upgrade"),
])
def test_check_target(current, target, upgrade, expected):
    assert update.check_target(current, target, upgrade) == expected


@pytest.mark.parametrize("current, target, upgrade, message", [
    (OLD, MAJOR, "minor", "keeps the major"), (NEW, OLD, "minor", "downgrade"), (OLD, NEW, "major", "not a newer major"),
    (MAJOR, OLD, "major", "not a newer major"), (OLD, NEW, "patch", "not valid"),
])
def test_check_target_refuses(current, target, upgrade, message):
    with pytest.raises(cluster.CnpgError, match=message):
        update.check_target(current, target, upgrade)


def test_update_image_patches_with_switchover_and_waits():
    kube = healthy_kube()
    result = update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5)
    assert result["changed"] and result["patched"] and result["after"]["healthy"]
    assert kube.clusters["pg"]["spec"]["primaryUpdateMethod"] == "switchover"
    # A re-run (after a killed one) finds the image set: nothing patched, only waited for.
    again = update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5)
    assert not again["changed"] and not again["patched"] and again["after"]["image"] == NEW


def test_update_image_check_mode_changes_nothing():
    kube = healthy_kube()
    result = update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5, check_mode=True)
    assert result["changed"] and not result["patched"]
    assert [c for c in kube.calls if c[0] != "GET"] == [] and kube.clusters["pg"]["spec"]["imageName"] == OLD


@pytest.mark.parametrize("kube, image, message", [
    (FakeKube(), NEW, "shop/pg does not exist"),
    (FakeKube([cnpg(ready=1)], {"pg": [pod("pg-1")]}), NEW, "not healthy"),
    (healthy_kube(), MAJOR, "keeps the major"),
])
def test_update_image_refuses_before_any_change(kube, image, message):
    with pytest.raises(cluster.CnpgError, match=message):
        update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", image, "minor", 5)
    assert [c for c in kube.calls if c[0] != "GET"] == []


def test_webhook_refusal_names_cluster_and_message():
    kube = healthy_kube()
    kube.refuse = "admission webhook denied: no downgrade"
    with pytest.raises(cluster.CnpgError, match=r"refused the image change .* Cluster shop/pg \(HTTP 400\): admission webhook"):
        update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5)


def test_canary_created_then_removed():
    kube = healthy_kube()
    clusters = cluster.CnpgClusters(kube, "shop")
    made = update.ensure_canary(clusters, "pg", "pg-canary", NEW, 5)
    assert made["changed"] and made["cluster"]["healthy"]
    assert not update.ensure_canary(clusters, "pg", "pg-canary", NEW, 5)["changed"]
    with pytest.raises(cluster.CnpgError, match="delete it"):
        update.ensure_canary(clusters, "pg", "pg-canary", OLD, 5)
    with pytest.raises(cluster.CnpgError, match="not a canary of pg"):
        update.remove_cluster(clusters, "pg", 5, canary_of="pg")
    assert update.remove_cluster(clusters, "pg-canary", 5, canary_of="pg")["changed"]
    assert not update.remove_cluster(clusters, "pg-canary", 5, canary_of="pg")["changed"]
    assert "pg" in kube.clusters


def test_canary_refuses_foreign_cluster_of_that_name():
    kube = healthy_kube()
    kube.clusters["other"] = cnpg(name="other")
    with pytest.raises(cluster.CnpgError, match="not a canary of pg"):
        update.ensure_canary(cluster.CnpgClusters(kube, "shop"), "pg", "other", NEW, 5)


class LabelKube(object):
    """Records pod label patches."""

    def __init__(self):
        self.patches = []

    def request(self, method, path, body=None, content_type=None, retry_status=True, ok_missing=False):
        assert method == "PATCH" and content_type == "application/merge-patch+json"
        self.patches.append((path.rsplit("/", 1)[1], body["metadata"]["labels"]))
        return {}


def test_the_new_primary_is_labelled_once_the_switchover_is_over_and_not_before():
    # Mid-switchover (target set, the new primary not promoted yet): nothing is touched.
    kube = LabelKube()
    pods = [pod("pg-1", role="primary"), pod("pg-2", role="replica")]
    assert update.label_current_primary(kube, cnpg(primary="pg-1", target="pg-2"), pods) == []
    # The new primary recorded itself: the old one is demoted first, then the new one labelled (both labels).
    done = update.label_current_primary(kube, cnpg(primary="pg-2", target="pg-2"), pods)
    assert [(c["pod"], c["role"]) for c in done] == [("pg-1", "replica"), ("pg-2", "primary")]
    assert kube.patches == [("pg-1", {"cnpg.io/instanceRole": "replica", "role": "replica"}),
                            ("pg-2", {"cnpg.io/instanceRole": "primary", "role": "primary"})]
    # Labels already right (the operator was first, or a later poll): nothing more.
    kube.patches = []
    relabelled = [pod("pg-1", role="replica"), pod("pg-2", role="primary")]
    assert update.label_current_primary(kube, cnpg(primary="pg-2", target="pg-2"), relabelled) == [] and not kube.patches


def test_a_primary_pod_that_is_not_running_or_is_going_is_not_labelled():
    kube = LabelKube()
    going = pod("pg-2", role="replica")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert update.label_current_primary(kube, cnpg(primary="pg-2", target="pg-2"), [pod("pg-1"), going]) == []
    pending = pod("pg-2", role="replica")
    pending["status"]["phase"] = "Pending"
    assert update.label_current_primary(kube, cnpg(primary="pg-2", target="pg-2"), [pod("pg-1"), pending]) == []
    assert update.label_current_primary(kube, cnpg(primary="pg-3", target="pg-3"), [pod("pg-1")]) == []
    assert not kube.patches


def test_a_minor_update_that_labels_waits_like_the_plain_one():
    kube = healthy_kube()
    result = update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5, label_primary=True)
    assert result["patched"] and result["after"]["healthy"] and result["labelled"] == []


def test_no_right_to_label_pods_leaves_it_to_the_operator():
    kube = healthy_kube()
    kube.pods_by["pg"] = [pod("pg-1", role="primary"), pod("pg-2", role="replica")]
    kube.clusters["pg"]["status"].update(currentPrimary="pg-2", targetPrimary="pg-2")
    real = kube.request

    def forbid(method, path, body=None, **kw):
        if "/pods/" in path:
            raise K8sApiError("forbidden", ApiErr(403, "pods is forbidden"))
        return real(method, path, body=body, **kw)
    kube.request = forbid
    result = update.update_image(cluster.CnpgClusters(kube, "shop"), "pg", NEW, "minor", 5, label_primary=True)
    assert result["after"]["healthy"] and len(result["labelled"]) == 1
    assert "left to the operator: HTTP 403 pods is forbidden" in result["labelled"][0]["refused"]
