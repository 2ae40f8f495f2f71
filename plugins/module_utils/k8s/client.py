# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection and the object helpers the runbooks share.

The connection takes kubernetes.core's options (``AUTH_ARG_SPEC``, doc fragment
``kubernetes.core.k8s_auth_options``) and its client factory, so a user configures every
Kubernetes task the same way. Objects are handled as plain dicts (the API's JSON), which
keeps the logic testable and the module results serialisable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, backoff_delays, retry_call

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:  # pragma: no cover - kubernetes.core is a declared dependency
    AUTH_ARG_SPEC = {}

try:
    import urllib3
    from kubernetes.client.rest import ApiException
    HAS_K8S = True
    K8S_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover
    HAS_K8S = False
    K8S_IMPORT_ERROR = _err
    ApiException = Exception


class K8sError(RunbookError):
    """A Kubernetes call failed for good, or its input was wrong."""


class K8sApiError(K8sError, ApiException):
    """The API server answered with an error; ``status``, ``reason`` and ``body`` as the client's.

    Also an ApiException, so callers that catch the kubernetes client's exception keep working.
    """

    def __init__(self, msg, err):
        K8sError.__init__(self, msg, status=getattr(err, "status", None),
                          details={"reason": getattr(err, "reason", None), "message": _api_message(err)})
        self.reason = getattr(err, "reason", None)
        self.body = getattr(err, "body", None)
        self.headers = getattr(err, "headers", None)

    def __str__(self):
        return self.msg


def k8s_argument_spec(**extra):
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(extra)
    return spec


_TRANSIENT_STATUS = (429, 500, 502, 503, 504)


def _transient(err, retry_status=True):
    """Dropped connections always; 429/5xx answers unless the caller handles them itself."""
    if isinstance(err, ApiException):
        return retry_status and (err.status in _TRANSIENT_STATUS or not err.status)
    return HAS_K8S and isinstance(err, (urllib3.exceptions.HTTPError, ConnectionError, OSError))


class Kube(object):
    """Thin JSON access to the API server over a kubernetes ApiClient.

    Every request is retried on dropped connections and on 429/5xx answers with backoff for
    up to ``retry_seconds`` (an API server restarting during a control-plane upgrade), except
    where the caller asks for the answer itself (evictions: a 429 there is a budget's "not now").
    """

    def __init__(self, api_client, retry_seconds=60.0, request_timeout=30.0):
        self.api = api_client
        self.retry_seconds = retry_seconds
        self.request_timeout = request_timeout

    @property
    def host(self):
        return self.api.configuration.host

    def request(self, method, path, query=None, body=None, content_type=None, ok_missing=False, retry_status=True):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"

        def call():
            return self.api.call_api(path, method, query_params=list((query or {}).items()), header_params=headers,
                                     body=body, auth_settings=["BearerToken"], _preload_content=False,
                                     _return_http_data_only=True, _request_timeout=self.request_timeout)
        try:
            resp = retry_call(call, Deadline(self.retry_seconds), lambda e: _transient(e, retry_status),
                              delays=backoff_delays(0.5, 2.0, 5.0))
        except Exception as err:  # pylint: disable=broad-except
            if isinstance(err, ApiException):
                if ok_missing and err.status == 404:
                    return None
                raise K8sApiError("Kubernetes API %s %s: %s" % (method, path, api_error_text(err)), err)
            if _transient(err, False):
                raise K8sError("the Kubernetes API at %s did not answer within %.0f s: %s"
                               % (self.host, self.retry_seconds, err))
            raise
        data = resp.data
        return json.loads(data) if data else {}

    def get(self, path, query=None, ok_missing=False):
        return self.request("GET", path, query=query, ok_missing=ok_missing)

    def items(self, path, query=None):
        return (self.get(path, query=query) or {}).get("items", [])

    def version(self):
        return self.get("/version")

    def nodes(self, label_selector=None):
        return self.items("/api/v1/nodes", {"labelSelector": label_selector} if label_selector else None)

    def node(self, name):
        return self.get("/api/v1/nodes/%s" % name, ok_missing=True)

    def patch_node(self, name, patch):
        return self.request("PATCH", "/api/v1/nodes/%s" % name, body=patch,
                            content_type="application/merge-patch+json")

    def pods(self, node_name=None, namespace=None):
        query = {"fieldSelector": "spec.nodeName=%s" % node_name} if node_name else None
        path = "/api/v1/namespaces/%s/pods" % namespace if namespace else "/api/v1/pods"
        return self.items(path, query)

    def pdbs(self, namespace=None):
        path = "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % namespace if namespace else \
            "/apis/policy/v1/poddisruptionbudgets"
        return self.items(path)

    def owner(self, namespace, kind, name):
        path = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "Deployment": "deployments",
                "DaemonSet": "daemonsets"}.get(kind)
        if path is None:
            return None
        return self.get("/apis/apps/v1/namespaces/%s/%s/%s" % (namespace, path, name), ok_missing=True)

    def evict(self, namespace, name, dry_run=False, grace_period=None):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": int(grace_period)}
        if dry_run:
            body.setdefault("deleteOptions", {})["dryRun"] = ["All"]
        return self.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (namespace, name), body=body,
                            retry_status=False)


def kube_from_params(params):
    """A :class:`Kube` from kubernetes.core auth params (kubeconfig, context, host, ...)."""
    if not HAS_K8S:
        raise K8sError("the Python library kubernetes is required on the controller: %s" % K8S_IMPORT_ERROR)
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    auth = dict((k, params.get(k)) for k in AUTH_ARG_SPEC if params.get(k) is not None)
    try:
        client = get_api_client(**auth)
    except Exception as err:  # kubeconfig missing/invalid: say which input
        raise K8sError("cannot build a Kubernetes client from kubeconfig=%r context=%r: %s"
                       % (params.get("kubeconfig") if isinstance(params.get("kubeconfig"), str) else "<dict>",
                          params.get("context"), err))
    return Kube(client.client.client)


def _api_message(err):
    """The ``message`` of an API server's Status body, or None."""
    body = getattr(err, "body", None)
    try:
        return json.loads(body).get("message") if body else None
    except (TypeError, ValueError, AttributeError):
        return None


def api_error_text(err):
    return "HTTP %s: %s" % (getattr(err, "status", "?"), _api_message(err) or getattr(err, "reason", err))
