"""In-memory Nodes, pods and a Linode API for the responder's unit tests."""

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError


def node(name, ready="True", instance=None, taints=None, annotations=None, since="2026-12-04T10:00:10Z",
         heartbeat="2026-12-04T10:00:00Z"):
    return {"metadata": {"name": name, "resourceVersion": "1", "annotations": dict(annotations or {})},
            "spec": {"providerID": "linode://%d" % instance if instance else "", "taints": list(taints or [])},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": since,
                                       "lastHeartbeatTime": heartbeat}]}}


class Conflict(K8sApiError):
    def __init__(self):
        Exception.__init__(self, "conflict")
        self.msg = "conflict"
        self.status = 409
        self.details = {}


class FakeKube(object):
    def __init__(self, nodes, pods=None, objects=None, attachments=None):
        self.nodes_ = {n["metadata"]["name"]: n for n in nodes}
        self.pods_ = list(pods or [])
        self.objects = dict(objects or {})
        self.attachments = list(attachments or [])
        self.patches = []
        self.conflicts = 0
        self.before_patch = None

    def nodes(self, label_selector=None):
        return list(self.nodes_.values())

    def node(self, name):
        return self.nodes_.get(name)

    def pods(self, node_name=None, namespace=None):
        return [p for p in self.pods_ if (node_name is None or p["spec"].get("nodeName") == node_name)
                and (namespace is None or p["metadata"]["namespace"] == namespace)]

    def request(self, method, path, body=None, ok_missing=False, **kw):
        self.deleted = getattr(self, "deleted", []) + [(method, path, body)]
        name = path.rsplit("/", 1)[-1]
        self.pods_ = [p for p in self.pods_ if p["metadata"]["name"] != name]

    def get(self, path, query=None, ok_missing=False):
        return self.objects.get(path)

    def items(self, path, query=None):
        return list(self.attachments)

    def patch_node(self, name, patch):
        if self.before_patch:
            self.before_patch(self)
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict()
        self.patches.append((name, patch))
        target = self.nodes_[name]
        for key, value in (patch.get("metadata") or {}).get("annotations", {}).items():
            if value is None:
                target["metadata"]["annotations"].pop(key, None)
            else:
                target["metadata"]["annotations"][key] = value
        if "spec" in patch:
            target["spec"]["taints"] = patch["spec"]["taints"] or []
        return target


class FakeLKE(object):
    """instance(id) -> dict or None (404); ``fail`` makes every call raise a LinodeError."""

    def __init__(self, instances=None, pool_ids=(), fail=None, cluster_id=314159):
        self.instances = dict(instances or {})
        self.pool_ids = list(pool_ids)
        self.fail = fail
        self.cluster_id = cluster_id
        self.calls = 0

    def instance(self, iid):
        self.calls += 1
        if self.fail:
            raise LinodeError(self.fail, 503)
        return self.instances.get(iid)

    def pools(self):
        return [{"id": 1, "nodes": [{"id": "n%d" % i, "instance_id": i} for i in self.pool_ids]}]
