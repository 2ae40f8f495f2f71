"""Unit tests for postgres/cloudnative_pg/logical.py: the parts that need neither the operator nor
PostgreSQL (names, the target Cluster's body, the Service checks). The replication and the cutover
run for real in tests/integration/postgres_operator/test_cnpg_major_logical.py."""

import copy
import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import logical

OLD, NEW = "lab.local/postgresql:15-aaa", "lab.local/postgresql:18-bbb"
RW = {"cnpg.io/cluster": "pg", "cnpg.io/instanceRole": "primary"}


def prod(**spec):
    body = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "shop"},
            "spec": dict({"instances": 2, "imageName": OLD, "enableSuperuserAccess": True,
                          "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                          "postgresql": {"parameters": {"max_connections": "40"}}}, **spec)}
    return body


def test_names_are_identifiers_of_the_target():
    assert logical.names("pg-18") == "fournines_upgrade_pg_18"
    assert len(logical.names("x" * 80)) == 63


def test_target_imports_the_schema_with_the_applications_credentials():
    body = logical.target_body(prod(), "pg-18", NEW, "app", "app", "pg-18-app")
    spec = body["spec"]
    assert spec["imageName"] == NEW and spec["instances"] == 2
    initdb = spec["bootstrap"]["initdb"]
    assert initdb["secret"] == {"name": "pg-18-app"} and initdb["owner"] == "app" and initdb["database"] == "app"
    assert initdb["import"] == {"type": "microservice", "databases": ["app"], "schemaOnly": True,
                                "source": {"externalCluster": "pg"}}
    ext = spec["externalClusters"][0]
    assert ext["name"] == "pg" and ext["connectionParameters"]["host"] == "pg-rw.shop.svc"
    assert ext["password"] == {"name": "pg-superuser", "key": "password"}
    assert spec["postgresql"]["parameters"] == {"max_connections": "40", "wal_level": "logical"}
    labels = body["metadata"]["labels"]
    assert labels["fournines.io/canary-of"] == "pg" and labels["fournines.io/role"] == logical.TARGET_ROLE
    assert "pg_basebackup" not in json.dumps(spec["bootstrap"])


def test_target_follows_a_superuser_secret_of_its_own_name():
    body = logical.target_body(prod(superuserSecret={"name": "pg-root"}), "pg-18", NEW, "app", "app", "pg-18-app")
    assert body["spec"]["externalClusters"][0]["password"]["name"] == "pg-root"
    assert "superuserSecret" not in body["spec"]  # the target's own superuser


class Kube(object):
    def __init__(self, objects):
        self.objects = objects
        self.requests = []

    def get(self, path, query=None, ok_missing=False):
        return copy.deepcopy(self.objects.get(path))

    def items(self, path, query=None):
        return copy.deepcopy(self.objects.get((path, (query or {}).get("labelSelector")), []))

    def request(self, method, path, query=None, body=None, content_type=None, ok_missing=False, retry_status=True):
        self.requests.append((method, path, body, content_type))
        return {}


def test_a_missing_application_service_says_how_to_make_it():
    kube = Kube({})
    with pytest.raises(cluster.CnpgError) as err:
        logical.read_service(kube, "shop", "pg-app")
    assert "Service shop/pg-app" in str(err.value) and "nothing was changed" in str(err.value)


def test_endpoints_on_the_target_only_when_they_are_its_primarys():
    sel = {"cnpg.io/cluster": "pg-18", "cnpg.io/instanceRole": "primary"}
    pods = [{"status": {"podIP": "10.0.0.9"}}]
    key = ("/api/v1/namespaces/shop/pods", "cnpg.io/cluster=pg-18,cnpg.io/instanceRole=primary")
    slices = ("/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", "kubernetes.io/service-name=pg-app")
    old = Kube({key: pods, slices: [{"endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": True}}]}]})
    assert not logical._endpoints_on(old, "shop", "pg-app", sel)  # pylint: disable=protected-access
    new = Kube({key: pods, slices: [{"endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}]}]})
    assert logical._endpoints_on(new, "shop", "pg-app", sel)  # pylint: disable=protected-access


def test_selector_patch_replaces_the_whole_selector():
    kube = Kube({})
    logical.patch_selector(kube, "shop", "pg-app", {"a": "b"}, {logical.SELECTOR_ANNOTATION: json.dumps(RW)})
    method, path, body, ctype = kube.requests[0]
    assert (method, path, ctype) == ("PATCH", "/api/v1/namespaces/shop/services/pg-app", "application/json-patch+json")
    assert body[0] == {"op": "replace", "path": "/spec/selector", "value": {"a": "b"}}
