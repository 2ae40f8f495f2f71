"""k8s/client.py: the JSON requests Kube sends through a kubernetes ApiClient (a fake here, the
boundary), what it retries, and the errors it raises."""

import json
import types

import pytest
import urllib3
from kubernetes.client.rest import ApiException

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client


class FakeApiClient(object):
    """Records call_api and answers from a script: dicts are bodies, exceptions are raised."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []
        self.configuration = types.SimpleNamespace(host="https://127.0.0.1:16443")

    def call_api(self, path, method, query_params=None, header_params=None, body=None, auth_settings=None,
                 _preload_content=True, _return_http_data_only=False, _request_timeout=None):
        self.calls.append({"path": path, "method": method, "query": query_params, "headers": header_params,
                           "body": body, "timeout": _request_timeout})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return types.SimpleNamespace(data=json.dumps(answer).encode() if answer is not None else b"")


def api_exception(status, message=None, reason="Error"):
    err = ApiException(status=status, reason=reason)
    err.body = json.dumps({"kind": "Status", "message": message}) if message else None
    return err


def kube(*answers, retry=1.0):
    return client.Kube(FakeApiClient(*answers), retry_seconds=retry, request_timeout=7)


def test_get_sends_json_headers_and_parses_the_answer():
    k = kube({"items": [{"metadata": {"name": "n1"}}]})
    assert k.nodes(label_selector="pool=101") == [{"metadata": {"name": "n1"}}]
    call = k.api.calls[0]
    assert (call["method"], call["path"], call["query"]) == ("GET", "/api/v1/nodes", [("labelSelector", "pool=101")])
    assert call["headers"] == {"Accept": "application/json"} and call["timeout"] == 7
    assert k.host == "https://127.0.0.1:16443"


def test_a_missing_object_is_none_where_asked():
    k = kube(api_exception(404, 'nodes "ghost" not found'))
    assert k.node("ghost") is None
    assert len(k.api.calls) == 1


def test_other_errors_raise_naming_the_request_and_the_servers_message():
    k = kube(api_exception(403, 'nodes is forbidden: User "x" cannot list resource "nodes"'))
    with pytest.raises(client.K8sApiError) as info:
        k.nodes()
    assert str(info.value) == ('Kubernetes API GET /api/v1/nodes: HTTP 403: nodes is forbidden: User "x" cannot '
                               'list resource "nodes"')
    assert info.value.status == 403
    assert isinstance(info.value, ApiException) and isinstance(info.value, client.K8sError)


def test_transient_answers_are_retried():
    k = kube(api_exception(503, reason="Service Unavailable"), api_exception(429), {"gitVersion": "v1.34.1"})
    assert k.version() == {"gitVersion": "v1.34.1"}
    assert len(k.api.calls) == 3


def test_an_eviction_429_is_the_callers_to_handle_not_retried():
    k = kube(api_exception(429, "Cannot evict pod as it would violate the pod's disruption budget."))
    with pytest.raises(client.K8sApiError, match="HTTP 429: Cannot evict pod") as info:
        k.evict("app", "web-1", grace_period=30)
    assert info.value.status == 429 and len(k.api.calls) == 1
    call = k.api.calls[0]
    assert (call["method"], call["path"]) == ("POST", "/api/v1/namespaces/app/pods/web-1/eviction")
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["body"] == {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": "web-1", "namespace": "app"},
                            "deleteOptions": {"gracePeriodSeconds": 30}}


def test_a_dry_run_eviction_says_so():
    k = kube({})
    k.evict("app", "web-1", dry_run=True)
    assert k.api.calls[0]["body"]["deleteOptions"] == {"dryRun": ["All"]}


def test_a_server_that_never_answers_is_named_after_the_deadline():
    k = kube(urllib3.exceptions.ProtocolError("Connection aborted."), retry=0.6)
    with pytest.raises(client.K8sError, match="the Kubernetes API at https://127.0.0.1:16443 did not answer within "
                                              "1 s: Connection aborted."):
        k.nodes()
    assert len(k.api.calls) >= 2


def test_patch_node_is_a_merge_patch():
    k = kube({})
    k.patch_node("n1", {"spec": {"unschedulable": True}})
    call = k.api.calls[0]
    assert (call["method"], call["path"]) == ("PATCH", "/api/v1/nodes/n1")
    assert call["headers"]["Content-Type"] == "application/merge-patch+json"


@pytest.mark.parametrize("args, path, query", [
    (dict(), "/api/v1/pods", []),
    (dict(node_name="n1"), "/api/v1/pods", [("fieldSelector", "spec.nodeName=n1")]),
    (dict(namespace="app"), "/api/v1/namespaces/app/pods", []),
])
def test_pods_paths(args, path, query):
    k = kube({"items": []})
    k.pods(**args)
    assert (k.api.calls[0]["path"], k.api.calls[0]["query"]) == (path, query)


def test_pdb_and_owner_paths():
    k = kube({"items": []})
    k.pdbs()
    k.pdbs("app")
    k.owner("app", "StatefulSet", "db")
    assert [c["path"] for c in k.api.calls] == [
        "/apis/policy/v1/poddisruptionbudgets", "/apis/policy/v1/namespaces/app/poddisruptionbudgets",
        "/apis/apps/v1/namespaces/app/statefulsets/db"]
    assert k.owner("app", "Job", "batch") is None and len(k.api.calls) == 3  # not looked up


def test_an_empty_answer_is_an_empty_dict():
    assert kube(None).request("DELETE", "/api/v1/namespaces/app/pods/x") == {}


@pytest.mark.parametrize("status, body, reason, text", [
    (409, json.dumps({"message": "conflict here"}), "Conflict", "HTTP 409: conflict here"),
    (500, "<html>", "Internal Server Error", "HTTP 500: Internal Server Error"),
    (None, None, None, "HTTP None: "),
])
def test_api_error_text(status, body, reason, text):
    err = types.SimpleNamespace(status=status, body=body, reason=reason)
    assert client.api_error_text(err).startswith(text)


def test_argument_spec_is_a_copy_with_extras():
    spec = client.k8s_argument_spec(nodes=dict(type="list"))
    assert "kubeconfig" in spec and "context" in spec and spec["nodes"] == dict(type="list")
    spec["kubeconfig"]["type"] = "changed"
    assert client.AUTH_ARG_SPEC["kubeconfig"]["type"] != "changed"


def test_a_kubeconfig_that_cannot_be_used_is_named(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(client.K8sError, match="cannot build a Kubernetes client from kubeconfig=%r context='lab'"
                                              % missing):
        client.kube_from_params({"kubeconfig": missing, "context": "lab"})
