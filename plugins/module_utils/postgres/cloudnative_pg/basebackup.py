# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fresh base backup of a CloudNativePG Cluster without an object store: a Job of the
Cluster's own image runs ``pg_basebackup`` (tar, compressed, WAL streamed, fast checkpoint)
through the ``-rw`` Service as ``streaming_replica`` (the operator's replication certificate)
into a PersistentVolumeClaim of the Cluster's StorageClass.

After a major upgrade the old backups cannot be restored into the new major (no PITR across
majors), so the runbook takes one before it says done. Where the Cluster has an object store
(``spec.backup.barmanObjectStore`` or a plugin), a ``Backup`` object is the better way; this
one needs nothing but a volume. Named after the run, so a re-run finds its Job again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import major

_SCRIPT = ('set -e; d=/backup/$BACKUP_NAME; rm -rf "$d.partial"; mkdir -p "$d.partial"; '
           'pg_basebackup -h "$SOURCE_HOST" -U streaming_replica -D "$d.partial" -Ft -z -X stream -c fast '
           '-l "$BACKUP_NAME"; rm -rf "$d"; mv "$d.partial" "$d"; '
           'echo "$(pg_config --version) $(du -sb "$d" | cut -f1)" >/dev/termination-log')


def names(cluster_name, run_id):
    """(Job name, PVC name) of the run's backup."""
    base = ("%s-basebackup-%s" % (cluster_name, run_id)).lower()[:52].rstrip("-")
    return base, base


def pvc_body(cluster_obj, name, size):
    storage = (cluster_obj.get("spec") or {}).get("storage") or {}
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage.get("storageClass"):
        spec["storageClassName"] = storage["storageClass"]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": cluster_obj["metadata"]["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "fournines.runbooks",
                                    "fournines.io/base-backup-of": cluster_obj["metadata"]["name"]}},
            "spec": spec}


def job_body(cluster_obj, name, pvc, backup_name):
    meta, spec = cluster_obj["metadata"], cluster_obj.get("spec") or {}
    cluster = meta["name"]
    env = [{"name": "BACKUP_NAME", "value": backup_name},
           {"name": "SOURCE_HOST", "value": "%s-rw.%s.svc" % (cluster, meta["namespace"])},
           {"name": "PGSSLMODE", "value": "verify-full"},
           {"name": "PGSSLCERT", "value": "/certs/replication/tls.crt"},
           {"name": "PGSSLKEY", "value": "/certs/replication/tls.key"},
           {"name": "PGSSLROOTCERT", "value": "/certs/ca/ca.crt"}]
    pod_spec = {
        "restartPolicy": "Never",
        "securityContext": {"runAsUser": 26, "runAsGroup": 26, "fsGroup": 26, "runAsNonRoot": True},
        "containers": [{"name": "pg-basebackup", "image": spec["imageName"],
                        "imagePullPolicy": spec.get("imagePullPolicy") or "IfNotPresent",
                        "command": ["/bin/sh", "-c", _SCRIPT], "env": env,
                        "volumeMounts": [{"name": "backup", "mountPath": "/backup"},
                                         {"name": "replication", "mountPath": "/certs/replication", "readOnly": True},
                                         {"name": "ca", "mountPath": "/certs/ca", "readOnly": True}]}],
        # libpq accepts a 0640 key only when root owns it (a Secret volume's files are root's).
        "volumes": [{"name": "backup", "persistentVolumeClaim": {"claimName": pvc}},
                    {"name": "replication", "secret": {"secretName": "%s-replication" % cluster, "defaultMode": 0o640}},
                    {"name": "ca", "secret": {"secretName": "%s-ca" % cluster, "defaultMode": 0o640}}],
    }
    pod_spec.update(major._scheduling(cluster_obj))  # pylint: disable=protected-access
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "fournines.runbooks",
                                    "fournines.io/base-backup-of": cluster}},
            "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": {"fournines.io/base-backup-of": cluster}},
                                                     "spec": pod_spec}}}


def _succeeded_pod_message(kube, namespace, job_name):
    for pod in kube.items("/api/v1/namespaces/%s/pods" % namespace, {"labelSelector": "job-name=%s" % job_name}):
        if (pod.get("status") or {}).get("phase") == "Succeeded":
            term = major._terminated(pod)  # pylint: disable=protected-access
            return (term or {}).get("message") or ""
    return ""


def take(kube, cluster_obj, run_id, size, timeout, check_mode=False, interval=2.0, clock=time.time):
    """Take (or find, on a re-run) the run's base backup; returns a result dict."""
    ns, cluster = cluster_obj["metadata"]["namespace"], cluster_obj["metadata"]["name"]
    job_name, pvc = names(cluster, run_id)
    jobs = "/apis/batch/v1/namespaces/%s/jobs" % ns
    result = {"namespace": ns, "cluster": cluster, "job": job_name, "pvc": pvc, "changed": False,
              "image": cluster_obj["spec"]["imageName"]}
    job = kube.get(jobs + "/" + job_name, ok_missing=True)
    if job is None:
        result["changed"] = True
        if check_mode:
            return result
        if kube.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (ns, pvc), ok_missing=True) is None:
            kube.request("POST", "/api/v1/namespaces/%s/persistentvolumeclaims" % ns, body=pvc_body(cluster_obj, pvc, size))
        kube.request("POST", jobs, body=job_body(cluster_obj, job_name, pvc, run_id))
    elif check_mode:
        return result
    started = clock()

    def finished():
        cur = kube.get(jobs + "/" + job_name) or {}
        st = cur.get("status") or {}
        if int(st.get("succeeded") or 0):
            return cur
        for cond in st.get("conditions") or []:
            if cond.get("type") == "Failed" and cond.get("status") == "True":
                raise cnpg_cluster.CnpgError("the base backup of %s/%s failed: %s" % (
                    ns, cluster, major.job_failure(kube, ns, cur) or cond.get("message") or cond.get("reason")))
        return None
    try:
        wait_until(finished, Deadline(timeout), interval=interval, what="base backup Job %s/%s" % (ns, job_name))
    except DeadlineExceeded:
        raise cnpg_cluster.CnpgError("the base backup Job %s/%s did not finish within %d s (kubectl -n %s logs job/%s)"
                                     % (ns, job_name, timeout, ns, job_name))
    result["seconds"] = round(clock() - started, 1)
    message = _succeeded_pod_message(kube, ns, job_name).split()
    if len(message) >= 2 and message[-1].isdigit():
        result["bytes"] = int(message[-1])
        result["server_version"] = " ".join(message[:-1])
    return result
