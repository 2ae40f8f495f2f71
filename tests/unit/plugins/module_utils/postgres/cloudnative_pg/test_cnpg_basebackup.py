"""Unit tests for postgres/cloudnative_pg/basebackup.py: the Job and claim it asks for, a re-run
that finds its Job, and a failed Job's error (the real pg_basebackup runs in
tests/integration/postgres_operator)."""

import copy

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import basebackup
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster

IMAGE = "lab.local/postgresql:18-bbb"


def cnpg():
    return {"metadata": {"name": "pg", "namespace": "shop"},
            "spec": {"instances": 2, "imageName": IMAGE, "imagePullPolicy": "Never",
                     "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                     "affinity": {"nodeSelector": {"lab.fournines.io/kubelet": "real"}}}}


class FakeKube(object):
    def __init__(self, outcome="succeeded", existing=None):
        self.objs = dict(existing or {})
        self.outcome = outcome
        self.posts = []

    def get(self, path, query=None, ok_missing=False):
        obj = self.objs.get(path)
        if obj is not None and "/jobs/" in path:
            obj = copy.deepcopy(obj)
            if self.outcome == "succeeded":
                obj["status"] = {"succeeded": 1}
            else:
                obj["status"] = {"failed": 3, "conditions": [{"type": "Failed", "status": "True",
                                                              "reason": "BackoffLimitExceeded"}]}
        return obj

    def items(self, path, query=None):
        if self.outcome == "succeeded":
            return [{"status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {
                "exitCode": 0, "message": "PostgreSQL 18.6 (Debian 18.6-3) 5242880\n"}}}]}}]
        return []

    def request(self, method, path, body=None, **kw):
        assert method == "POST"
        self.posts.append(body)
        self.objs[path + "/" + body["metadata"]["name"]] = body
        return body


def test_job_and_claim_of_the_clusters_image_class_and_node():
    kube = FakeKube()
    res = basebackup.take(kube, cnpg(), "run-1", "2Gi", timeout=10, interval=0)
    pvc, job = kube.posts
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["storageClassName"] == "lab-node-local"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == IMAGE and pod["nodeSelector"] == {"lab.fournines.io/kubelet": "real"}
    env = dict((e["name"], e["value"]) for e in pod["containers"][0]["env"])
    assert env["SOURCE_HOST"] == "pg-rw.shop.svc" and env["PGSSLMODE"] == "verify-full"
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == ["pg-replication", "pg-ca"]
    assert res["job"] == res["pvc"] == "pg-basebackup-run-1"
    assert res["bytes"] == 5242880 and res["server_version"].startswith("PostgreSQL 18.6")
    assert res["changed"]


def test_a_rerun_finds_its_job_and_only_waits():
    kube = FakeKube()
    basebackup.take(kube, cnpg(), "run-1", "2Gi", timeout=10, interval=0)
    again = basebackup.take(kube, cnpg(), "run-1", "2Gi", timeout=10, interval=0)
    assert not again["changed"] and len(kube.posts) == 2


def test_check_mode_creates_nothing():
    kube = FakeKube()
    res = basebackup.take(kube, cnpg(), "run-1", "2Gi", timeout=10, check_mode=True)
    assert res["changed"] and not kube.posts


def test_a_failed_job_is_an_error_naming_the_cluster():
    kube = FakeKube(outcome="failed")
    with pytest.raises(cluster.CnpgError, match="base backup of shop/pg failed"):
        basebackup.take(kube, cnpg(), "run-1", "2Gi", timeout=10, interval=0)
