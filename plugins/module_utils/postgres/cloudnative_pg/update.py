# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image change of a CloudNativePG Cluster (minor: rolling update with a switchover;
major: the operator's in-place ``pg_upgrade``), and the throw-away canary clone.

Each function checks before it changes, is safe to call again after a killed run (a Cluster
already on the target image is only waited for), and returns what it did.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import format_version

UPGRADES = ("minor", "major")
#: The pod labels CloudNativePG's ``-rw`` Service selects on (``cnpg.io/instanceRole``) and its legacy twin.
ROLE_LABELS = ("cnpg.io/instanceRole", "role")
#: Seconds between two looks at the Cluster while a minor update waits and labels its new primary.
LABEL_POLL = 0.25


def label_current_primary(kube, obj, pods):
    """Label the instance pods as the operator does from ``status.currentPrimary`` (the pod it names
    ``primary``, every other active instance ``replica``), when the operator has not yet: after a
    switchover the new primary records itself in ``currentPrimary`` seconds before the operator, busy
    with the old primary's restart, relabels the pods, and until then the ``-rw`` Service selects nobody.

    Only once the switchover is over from the instances' side (``currentPrimary == targetPrimary``, set
    by the new primary's instance manager after its promotion, which follows the old primary's clean
    shutdown), and only for a Running, not deleting, pod: the same rule the operator applies, a few
    seconds earlier. Others are demoted before the new primary is labelled. Returns the pods changed."""
    st = obj.get("status") or {}
    primary = st.get("currentPrimary")
    if not primary or primary != st.get("targetPrimary"):
        return []
    by_name = dict((p["metadata"]["name"], p) for p in cnpg_cluster.instance_pods(pods))
    target = by_name.get(primary)
    if target is None or target["metadata"].get("deletionTimestamp") or (target.get("status") or {}).get("phase") != "Running":
        return []
    if (target["metadata"].get("labels") or {}).get(ROLE_LABELS[0]) == "primary":
        return []
    changed = []
    ns = obj["metadata"]["namespace"]
    for pod_name, pod in sorted(by_name.items()):
        if pod_name != primary and (pod["metadata"].get("labels") or {}).get(ROLE_LABELS[0]) == "primary":
            _set_role(kube, ns, pod_name, "replica")
            changed.append({"pod": pod_name, "role": "replica", "at": time.time()})
    _set_role(kube, ns, primary, "primary")
    changed.append({"pod": primary, "role": "primary", "at": time.time()})
    return changed


def _set_role(kube, namespace, pod, role):
    kube.request("PATCH", "/api/v1/namespaces/%s/pods/%s" % (namespace, pod),
                 body={"metadata": {"labels": dict((label, role) for label in ROLE_LABELS)}},
                 content_type="application/merge-patch+json", retry_status=True)


def wait_labelling(clusters, name, image, timeout, interval=LABEL_POLL, clock=time.time):
    """:meth:`..cluster.CnpgClusters.wait_healthy` that also labels the new primary as soon as the
    switchover is over (:func:`label_current_primary`). Returns (summary, labelled)."""
    labelled = []
    last = {}

    def done():
        obj = clusters.get(name)
        if obj is None:
            clusters.require(name)
        pods = clusters.pods(name)
        if not last.get("refused"):
            try:
                labelled.extend(label_current_primary(clusters.kube, obj, pods))
            except K8sApiError as err:  # no right to patch pods (403), say: the operator labels them a little later
                last["refused"] = True
                labelled.append({"refused": "the pods' role labels were left to the operator: HTTP %s %s"
                                            % (err.status, err.details.get("message") or err), "at": clock()})
        last["info"] = cnpg_cluster.summarize(obj, pods)
        return last["info"] if last["info"]["healthy"] and last["info"]["image"] == image else None
    try:
        return wait_until(done, Deadline(timeout), interval=interval, what="Cluster %s/%s" % (clusters.namespace, name)), labelled
    except DeadlineExceeded as err:
        info = last.get("info") or {}
        raise cnpg_cluster.CnpgError("Cluster %s/%s did not become healthy on %s within %d s: %s (%s)"
                                     % (clusters.namespace, name, image, timeout, "; ".join(info.get("problems") or []) or "?",
                                        err), details={"cluster": info})


def check_target(current_image, target_image, upgrade):
    """Refuse a target image that is not the ``upgrade`` asked for; 'noop' or 'upgrade'."""
    cur, tgt = cnpg_cluster.image_version(current_image), cnpg_cluster.image_version(target_image)
    if current_image == target_image:
        return "noop"
    if upgrade == "minor":
        if tgt[0] != cur[0]:
            raise cnpg_cluster.CnpgError(
                "target image %s is PostgreSQL %d but the Cluster runs %d (%s); a minor update keeps the major: give "
                "an image of %d, or use postgres_upgrade=major" % (target_image, tgt[0], cur[0], current_image, cur[0]))
        if cur[1] is not None and tgt[1] is not None and tgt[1] < cur[1]:
            raise cnpg_cluster.CnpgError(
                "target image %s (%s) is a downgrade from %s (%s); give a newer patch release of %d"
                % (target_image, format_version(tgt), current_image, format_version(cur), cur[0]))
    elif upgrade == "major":
        if tgt[0] <= cur[0]:
            raise cnpg_cluster.CnpgError(
                "target image %s is PostgreSQL %d, not a newer major than the running %d (%s); give an image of a "
                "higher major, or use postgres_upgrade=minor" % (target_image, tgt[0], cur[0], current_image))
    else:
        raise cnpg_cluster.CnpgError("upgrade %r is not valid; give one of %s" % (upgrade, ", ".join(UPGRADES)))
    return "upgrade"


def _refused(err, what, namespace, name):
    msg = err.details.get("message") if getattr(err, "details", None) else None
    return cnpg_cluster.CnpgError("the API server refused %s of Cluster %s/%s (HTTP %s): %s; nothing was changed"
                                  % (what, namespace, name, err.status, msg or err), status=err.status)


def update_image(clusters, name, image, upgrade, timeout, check_mode=False, max_lag_bytes=None, wait=True,
                 label_primary=False):
    """Set the Cluster's image and wait until it is healthy on it. Returns a result dict.

    With ``label_primary`` (a minor update) the wait labels the new primary for the ``-rw`` Service as
    soon as the switchover is over (:func:`label_current_primary`); ``labelled`` lists what it changed.

    A Cluster already set to ``image`` (a re-run after a killed one) is not patched again; it
    is waited for. Otherwise it must be healthy first (replicas streaming within
    ``max_lag_bytes``), and the target must be the kind of ``upgrade`` asked for.
    """
    ns = clusters.namespace
    before = clusters.info(name, max_lag_bytes=max_lag_bytes)
    if not before["exists"]:
        clusters.require(name)
    current = before["image"]
    result = {"namespace": ns, "name": name, "image_before": current, "image": image, "before": before,
              "changed": False, "patched": False}
    if current != image:
        check_target(current, image, upgrade)
        if not before["healthy"]:
            raise cnpg_cluster.CnpgError(
                "Cluster %s/%s is not healthy, so its image is not changed: %s. Wait for the operator to heal it "
                "(kubectl get cluster -n %s %s) and run again" % (ns, name, "; ".join(before["problems"]), ns, name),
                details={"cluster": before})
        result["changed"] = True
        if check_mode:
            result["after"] = before
            return result
        started = time.time()
        try:
            clusters.patch_image(name, image, switchover=(upgrade == "minor"))
        except K8sApiError as err:
            raise _refused(err, "the image change to %s" % image, ns, name)
        result["patched"] = True
        result["patched_at"] = started
    elif check_mode:
        result["after"] = before
        return result
    if wait and label_primary and upgrade == "minor":
        result["after"], result["labelled"] = wait_labelling(clusters, name, image, timeout)
    elif wait:
        result["after"] = clusters.wait_healthy(name, image, timeout)
    return result


def ensure_canary(clusters, source, name, image, timeout, check_mode=False, instances=1):
    """Create the canary clone of ``source`` on ``image`` (absent or not) and wait until it is healthy."""
    ns = clusters.namespace
    prod = clusters.require(source)
    existing = clusters.get(name)
    result = {"namespace": ns, "name": name, "source": source, "image": image, "changed": False}
    if existing is not None:
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if labels.get("fournines.io/canary-of") != source:
            raise cnpg_cluster.CnpgError(
                "Cluster %s/%s exists and is not a canary of %s (label fournines.io/canary-of); give another "
                "canary name, nothing was changed" % (ns, name, source))
        if existing["spec"].get("imageName") != image:
            raise cnpg_cluster.CnpgError(
                "canary %s/%s runs %s, not %s; delete it (state=absent) and create it again"
                % (ns, name, existing["spec"].get("imageName"), image))
    else:
        cnpg_cluster.image_version(image)
        result["changed"] = True
        if check_mode:
            return result
        try:
            clusters.create(cnpg_cluster.canary_body(prod, name, image, instances=instances))
        except K8sApiError as err:
            raise _refused(err, "the creation of canary %s" % name, ns, source)
    if check_mode:
        result["cluster"] = clusters.info(name)
        return result
    started = time.time()
    result["cluster"] = clusters.wait_healthy(name, image, timeout)
    result["ready_seconds"] = round(time.time() - started, 1)
    return result


def remove_cluster(clusters, name, timeout, check_mode=False, canary_of=None):
    """Delete a (canary) Cluster and wait until its pods are gone; refuses a non-canary."""
    obj = clusters.get(name)
    result = {"namespace": clusters.namespace, "name": name, "changed": obj is not None}
    if obj is None:
        return result
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if canary_of is not None and labels.get("fournines.io/canary-of") != canary_of:
        raise cnpg_cluster.CnpgError("Cluster %s/%s is not a canary of %s; it is not deleted"
                                     % (clusters.namespace, name, canary_of))
    if check_mode:
        return result
    clusters.delete(name)
    clusters.wait_gone(name, timeout)
    return result
