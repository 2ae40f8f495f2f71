# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CloudNativePG backend: a ``postgresql.cnpg.io/v1`` Cluster read and changed through the
Kubernetes API (no SSH).

Objects are plain dicts (the API's JSON). :func:`summarize` judges a Cluster from what the
operator reports (phase, instances, primary) and the instance pods; :class:`CnpgClusters`
reads, patches the image (the operator's rolling update: replicas first, then a switchover),
waits for the update, and creates/deletes a canary Cluster bootstrapped with ``pg_basebackup``
from production.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import k8s_argument_spec
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import format_version

GROUP = "postgresql.cnpg.io"
VERSION = "v1"
HEALTHY_PHASE = "Cluster in healthy state"
#: Crunchy PGO's kinds: detected, never driven (no real PGO operator has exercised a flow here).
PGO_GROUP = "postgres-operator.crunchydata.com"
PGO_VERSION = "v1beta1"


def cluster_argument_spec(**extra):
    """The Kubernetes connection plus the Cluster's ``namespace`` and ``name`` (doc fragment
    ``fournines.runbooks.postgres.cnpg_cluster``), and ``extra``."""
    return k8s_argument_spec(namespace=dict(type="str", required=True), name=dict(type="str", required=True), **extra)


_TAG_RE = re.compile(r"^(\d+)(?:\.(\d+))?")


class CnpgError(PostgresError):
    """A CloudNativePG Cluster is missing, unhealthy, or refused a change."""


def image_version(image):
    """(major, minor) from an image reference's tag: '...postgresql:15.18-abc' -> (15, 18).

    CloudNativePG requires the tag to start with the major version; ``minor`` is None for a
    tag such as '17-abc' or '17'. A digest-only or tag-less reference is refused.
    """
    ref = str(image or "").split("@", 1)[0]
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag or not name:
        raise CnpgError("image %r has no tag; CloudNativePG needs a tag starting with the PostgreSQL major "
                        "version, such as ghcr.io/cloudnative-pg/postgresql:17.5" % (image,))
    match = _TAG_RE.match(tag)
    if not match or int(match.group(1)) < 10:
        raise CnpgError("the tag of image %r does not start with a PostgreSQL major version (10 or later), "
                        "such as 17.5 or 15.18-bookworm" % (image,))
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


def superuser_secret(obj):
    """The Secret the operator keeps the superuser's credentials in: ``spec.superuserSecret.name``,
    else ``<cluster>-superuser``. It is usable only while ``spec.enableSuperuserAccess`` is true
    (off, the default, the operator deletes the Secret it made and blanks the password)."""
    spec = obj.get("spec") or {}
    return (spec.get("superuserSecret") or {}).get("name") or "%s-superuser" % (obj.get("metadata") or {}).get("name")


def superuser_access(obj):
    """Whether the Cluster lets the runbook connect as its superuser (``spec.enableSuperuserAccess``)."""
    return (obj.get("spec") or {}).get("enableSuperuserAccess") is True


def cluster_path(namespace, name=None):
    path = "/apis/%s/%s/namespaces/%s/clusters" % (GROUP, VERSION, namespace)
    return path + "/" + name if name else path


def annotations(obj):
    """An object's annotations ({} when it has none or is None)."""
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def _condition(obj, kind):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def instance_pods(pods):
    """The Cluster's instance pods (not Jobs), sorted by name."""
    return sorted((p for p in pods if (p["metadata"].get("labels") or {}).get("cnpg.io/podRole") == "instance"),
                  key=lambda p: p["metadata"]["name"])


def _pod_view(pod):
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    image = None
    for container in spec.get("containers") or []:
        if container.get("name") == "postgres":
            image = container.get("image")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    labels = pod["metadata"].get("labels") or {}
    return {"name": pod["metadata"]["name"], "image": image, "ready": ready, "phase": st.get("phase"),
            "role": labels.get("cnpg.io/instanceRole") or labels.get("role"),
            "deleting": bool(pod["metadata"].get("deletionTimestamp"))}


def summarize(obj, pods=None, max_lag_bytes=None, lags=None):
    """What the operator says of a Cluster, and whether it is healthy enough to change.

    ``lags`` maps replica names to their replay lag in bytes (from :mod:`.replication`), when
    known. Returns a dict with ``healthy`` (bool) and ``problems`` (what is wrong, in words).
    """
    meta, spec, st = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    image = spec.get("imageName")
    pods = [_pod_view(p) for p in instance_pods(pods or [])]
    info = {
        "namespace": meta.get("namespace"), "name": meta.get("name"), "exists": True,
        "image": image, "phase": st.get("phase"), "phase_reason": st.get("phaseReason"),
        "instances": spec.get("instances"), "ready_instances": st.get("readyInstances") or 0,
        "current_primary": st.get("currentPrimary"), "target_primary": st.get("targetPrimary"),
        "primary_update_strategy": spec.get("primaryUpdateStrategy") or "unsupervised",
        "primary_update_method": spec.get("primaryUpdateMethod") or "restart",
        "data_major": (st.get("pgDataImageInfo") or {}).get("majorVersion"),
        "pods": pods, "replication_lag_bytes": dict(lags or {}),
        "bootstrap": sorted((spec.get("bootstrap") or {}).keys()),
        "superuser_access": superuser_access(obj), "superuser_secret": superuser_secret(obj),
    }
    try:
        major, minor = image_version(image)
        info["version"] = format_version((major, minor))
        info["major"] = major
    except CnpgError:
        info["version"], info["major"] = None, None
    problems = []
    if info["phase"] != HEALTHY_PHASE:
        problems.append("phase is %r, not %r" % (info["phase"], HEALTHY_PHASE))
    if info["ready_instances"] != info["instances"]:
        problems.append("%s of %s instances ready" % (info["ready_instances"], info["instances"]))
    if info["current_primary"] != info["target_primary"]:
        problems.append("a switchover or failover is under way (current primary %s, target %s)"
                        % (info["current_primary"], info["target_primary"]))
    ready = _condition(obj, "Ready")
    if ready is not None and ready.get("status") != "True":
        problems.append("condition Ready is %s: %s" % (ready.get("status"), ready.get("message") or ready.get("reason")))
    stale = [p["name"] for p in pods if image and p["image"] != image]
    if stale:
        problems.append("pods %s do not run the Cluster's image yet" % ", ".join(stale))
    if max_lag_bytes is not None:
        for replica, lag in sorted((lags or {}).items()):
            if lag is None:
                problems.append("replica %s is not streaming" % replica)
            elif lag > max_lag_bytes:
                problems.append("replica %s is %d bytes behind the primary (limit %d)" % (replica, lag, max_lag_bytes))
    info["problems"] = problems
    info["healthy"] = not problems
    return info


def canary_body(prod, name, image, instances=1, labels=None):
    """A Cluster that clones ``prod`` with ``pg_basebackup`` (streaming_replica user, TLS), on ``image``.

    It copies what a clone needs to run like production (storage, affinity, resources,
    PostgreSQL parameters and the pull policy) and nothing that would tie it to production's
    lifecycle (no backups, no replica-cluster link: it diverges on its own timeline).
    """
    spec, meta = prod.get("spec") or {}, prod.get("metadata") or {}
    source = meta["name"]
    host = "%s-rw.%s.svc" % (source, meta["namespace"])
    body_spec = {
        "instances": int(instances), "imageName": image,
        "bootstrap": {"pg_basebackup": {"source": source}},
        "externalClusters": [{
            "name": source,
            "connectionParameters": {"host": host, "user": "streaming_replica", "sslmode": "verify-full",
                                     "dbname": "postgres"},
            "sslKey": {"name": "%s-replication" % source, "key": "tls.key"},
            "sslCert": {"name": "%s-replication" % source, "key": "tls.crt"},
            "sslRootCert": {"name": "%s-ca" % source, "key": "ca.crt"},
        }],
    }
    for key in ("imagePullPolicy", "storage", "walStorage", "affinity", "resources", "enableSuperuserAccess",
                "superuserSecret"):
        if key in spec:
            body_spec[key] = spec[key]
    params = dict((spec.get("postgresql") or {}).get("parameters") or {})
    if params:
        body_spec["postgresql"] = {"parameters": params}
    libs = (spec.get("postgresql") or {}).get("shared_preload_libraries")
    if libs:
        body_spec.setdefault("postgresql", {})["shared_preload_libraries"] = list(libs)
    all_labels = {"app.kubernetes.io/managed-by": "fournines.runbooks", "fournines.io/canary-of": source}
    all_labels.update(labels or {})
    return {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "Cluster",
            "metadata": {"name": name, "namespace": meta["namespace"], "labels": all_labels},
            "spec": body_spec}


class CnpgClusters(object):
    """CloudNativePG Clusters in one namespace, through a :class:`~..k8s.client.Kube`."""

    def __init__(self, kube, namespace, lag_reader=None):
        self.kube = kube
        self.namespace = namespace
        self.lag_reader = lag_reader

    def get(self, name):
        return self.kube.get(cluster_path(self.namespace, name), ok_missing=True)

    def merge_patch(self, name, body):
        """A JSON merge patch of Cluster ``name`` (annotations, spec), retried on 429/5xx; the webhook may refuse."""
        return self.kube.request("PATCH", cluster_path(self.namespace, name), body=body,
                                 content_type="application/merge-patch+json", retry_status=True)

    def pods(self, name):
        return self.kube.items("/api/v1/namespaces/%s/pods" % self.namespace, {"labelSelector": "cnpg.io/cluster=%s" % name})

    def require(self, name):
        obj = self.get(name)
        if obj is None:
            raise CnpgError("CloudNativePG Cluster %s/%s does not exist; give the namespace and name of an existing "
                            "Cluster (kubectl get clusters.postgresql.cnpg.io -A lists them)%s"
                            % (self.namespace, name, self._pgo_hint(name)))
        return obj

    def _pgo_hint(self, name):
        pgo = self.kube.get("/apis/%s/%s/namespaces/%s/postgresclusters/%s" % (PGO_GROUP, PGO_VERSION, self.namespace, name),
                            ok_missing=True)
        if pgo is None:
            return ""
        return ("; %s/%s is a Crunchy PGO PostgresCluster, which this runbook does not upgrade (supported: "
                "postgres_backend host or cloudnative_pg); upgrade it with PGO's own PGUpgrade" % (self.namespace, name))

    def info(self, name, max_lag_bytes=None):
        obj = self.get(name)
        if obj is None:
            return {"namespace": self.namespace, "name": name, "exists": False, "healthy": False,
                    "problems": ["Cluster %s/%s does not exist%s" % (self.namespace, name, self._pgo_hint(name))]}
        lags = self.lag_reader(obj) if self.lag_reader is not None else None
        return summarize(obj, self.pods(name), max_lag_bytes=max_lag_bytes, lags=lags)

    def patch_image(self, name, image, switchover=True):
        """Set ``spec.imageName`` (and ``primaryUpdateMethod: switchover``); the webhook may refuse."""
        spec = {"imageName": image}
        if switchover:
            spec["primaryUpdateMethod"] = "switchover"
        return self.merge_patch(name, {"spec": spec})

    def wait_healthy(self, name, image, timeout, interval=2.0, on_wait=None):
        """Wait until every instance runs ``image`` and the Cluster is healthy; return its summary."""
        last = {}

        def done():
            last["info"] = self.info(name)
            return last["info"] if last["info"]["healthy"] and last["info"]["image"] == image else None
        try:
            return wait_until(done, Deadline(timeout), interval=interval, what="Cluster %s/%s" % (self.namespace, name),
                              on_wait=on_wait)
        except DeadlineExceeded as err:  # say what was still wrong
            info = last.get("info") or {}
            raise CnpgError("Cluster %s/%s did not become healthy on %s within %d s: %s (%s)"
                            % (self.namespace, name, image, timeout, "; ".join(info.get("problems") or []) or "?", err),
                            details={"cluster": info})

    def create(self, body):
        return self.kube.request("POST", cluster_path(self.namespace), body=body)

    def delete(self, name):
        """Delete a Cluster; False when it was already gone."""
        return self.kube.request("DELETE", cluster_path(self.namespace, name), ok_missing=True) is not None

    def wait_gone(self, name, timeout, interval=2.0):
        def gone():
            return self.get(name) is None and not instance_pods(self.pods(name))
        return wait_until(gone, Deadline(timeout), interval=interval, what="Cluster %s/%s deleted" % (self.namespace, name))
