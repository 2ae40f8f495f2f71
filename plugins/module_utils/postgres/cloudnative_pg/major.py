# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CloudNativePG major upgrade: what the new image provides, the operator's in-place
``pg_upgrade`` watched to its end (or its failure), and the pre-upgrade replica clone that is
the way back.

How the operator does it (1.26+): a higher major in ``spec.imageName`` deletes every instance
pod, runs a Job labelled ``cnpg.io/jobRole=major-upgrade`` (init container ``prepare`` in the
old image copies its bindir/pkglibdir/sharedir; then ``pg_upgrade --link`` in the new image),
records ``status.pgDataImageInfo.majorVersion`` and re-clones the replicas. It has no failure
phase: a failing Job is retried, so :func:`upgrade_in_place` reads the Job's failed pods and
stops with the error from their log.

Rollback: once the Job has run, putting the old image back does not recover the Cluster (its
data directory belongs to the new major). The way back is :func:`rollback_clone_body`: a replica
Cluster of production at the old major, streaming until production stops for the upgrade, kept
until the run ends; promoting it (``spec.replica.enabled: false``) gives a primary with every
write committed before the upgrade began.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import compat
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import replication
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import update

JOB_ROLE = "major-upgrade"
#: What a real upgrade leaves on the Cluster until it is over: the run that raised the image, and the
#: Cluster's own ``spec.smartShutdownTimeout``, put back when the upgrade ends (also by a re-run that
#: carries on a killed run: the annotation, not the run's memory, says what to restore).
RUN_ANNOTATION = "fournines.io/major-upgrade-run"
SMART_SHUTDOWN_ANNOTATION = "fournines.io/smart-shutdown-timeout-before"
#: CloudNativePG's default ``smartShutdownTimeout`` (seconds), when the Cluster sets none.
DEFAULT_SMART_SHUTDOWN = 180
#: Seconds the instance managers get to apply a lowered ``smartShutdownTimeout`` (they read it from
#: their watch of the Cluster at the start of each reconcile) before the image change deletes their pods.
SMART_SHUTDOWN_SETTLE = 3.0
UPGRADING_PHASE = "Upgrading Postgres major version"
#: Physical slots CloudNativePG keeps for its own replicas; the upgrade re-clones them anyway.
OPERATOR_SLOT_PREFIX = "_cnpg_"
#: What the inventory pod prints (to its termination message: no log read needed).
_INVENTORY_SCRIPT = (
    'set -e; s=$(pg_config --sharedir); l=$(pg_config --pkglibdir); v=$(pg_config --version); '
    'e=$(cd "$s/extension" && ls *.control | sed "s/\\.control$//" | tr "\\n" " "); '
    'o=$(cd "$l" && ls *.so | sed "s/\\.so$//" | tr "\\n" " "); '
    'printf "%s\\n%s\\n%s\\n%s\\n" "$v" "$l" "$e" "$o" >/dev/termination-log')


def data_major(obj):
    """The major of the Cluster's data directory, as the operator records it (None if unknown)."""
    return (((obj or {}).get("status") or {}).get("pgDataImageInfo") or {}).get("majorVersion")


def _scheduling(cluster_obj):
    """nodeSelector and tolerations of the Cluster's own pods (CloudNativePG's ``spec.affinity``)."""
    aff = (cluster_obj.get("spec") or {}).get("affinity") or {}
    out = {}
    if aff.get("nodeSelector"):
        out["nodeSelector"] = dict(aff["nodeSelector"])
    if aff.get("tolerations"):
        out["tolerations"] = list(aff["tolerations"])
    return out


def inventory_pod_body(cluster_obj, name, image):
    """A one-shot pod of ``image``, placed like the Cluster's instances, that lists what the
    image's PostgreSQL provides (version, pkglibdir, extensions, libraries)."""
    spec = {"restartPolicy": "Never", "activeDeadlineSeconds": 120,
            "securityContext": {"runAsUser": 26, "runAsGroup": 26, "runAsNonRoot": True},
            "containers": [{"name": "inventory", "image": image, "command": ["/bin/sh", "-c", _INVENTORY_SCRIPT],
                            "imagePullPolicy": (cluster_obj.get("spec") or {}).get("imagePullPolicy") or "IfNotPresent"}]}
    spec.update(_scheduling(cluster_obj))
    meta = cluster_obj["metadata"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "fournines.runbooks",
                                    "fournines.io/inventory-of": meta["name"]}},
            "spec": spec}


def parse_inventory(message):
    """The termination message of the inventory pod -> dict (version, pkglibdir, extensions, libraries)."""
    lines = (message or "").split("\n")
    if len(lines) < 4 or not lines[0].startswith("PostgreSQL"):
        raise cnpg_cluster.CnpgError("the image inventory pod printed %r, not pg_config's version, pkglibdir and the "
                                     "extension and library lists; does the image have pg_config on PATH?" % (message,))
    return {"version": lines[0].split(" ", 1)[1].strip(), "pkglibdir": lines[1].strip(),
            "extensions": sorted(lines[2].split()), "libraries": sorted(lines[3].split())}


def _terminated(pod):
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = (status.get("state") or {}).get("terminated")
        if state:
            return state
    return None


def image_inventory(kube, cluster_obj, image, timeout=180, interval=1.0):
    """Run the inventory pod of ``image`` beside the Cluster, read its answer, delete it."""
    ns = cluster_obj["metadata"]["namespace"]
    name = "%s-inventory-%d" % (cluster_obj["metadata"]["name"], int(time.time()))
    path = "/api/v1/namespaces/%s/pods" % ns
    kube.request("POST", path, body=inventory_pod_body(cluster_obj, name, image))
    try:
        def finished():
            pod = kube.get(path + "/" + name, ok_missing=True) or {}
            return _terminated(pod)
        try:
            state = wait_until(finished, Deadline(timeout), interval=interval, what="image inventory pod %s/%s" % (ns, name))
        except DeadlineExceeded:
            raise cnpg_cluster.CnpgError("the pod that lists what image %s provides did not finish within %d s (kubectl -n "
                                         "%s describe pod %s); is the image present on the node?" % (image, timeout, ns, name))
        if state.get("exitCode") != 0:
            raise cnpg_cluster.CnpgError("the inventory pod of image %s failed (exit %s): %s"
                                         % (image, state.get("exitCode"), state.get("message") or state.get("reason")))
        return parse_inventory(state.get("message"))
    finally:
        kube.request("DELETE", path + "/" + name, ok_missing=True)


def preflight_findings(info, inventory, image):
    """The host backend's extension and library verdicts plus the catalog states pg_upgrade
    refuses, for the running old cluster ``info`` (:func:`..sql.cluster_info`) against the new
    image's ``inventory``."""
    findings = compat.extension_findings(info, inventory["extensions"], inventory["libraries"],
                                         "%s of image %s" % (inventory["pkglibdir"], image))
    prepared = int(info.get("prepared_transactions") or 0)
    findings.append(compat.finding("prepared_transactions", prepared == 0,
                                   "%d prepared transaction(s) open; commit or roll them back first" % prepared))
    for slot in info.get("replication_slots") or []:
        if slot["slot_type"] == "logical":
            findings.append(compat.finding("replication_slot:%s" % slot["slot_name"], False,
                                           "logical slot %s (database %s) is not carried over by pg_upgrade; drop it and "
                                           "recreate it after the upgrade" % (slot["slot_name"], slot.get("database"))))
    return findings


def blocking(findings):
    """The messages of the findings that stop the upgrade."""
    return [f["message"] for f in findings if not f["ok"] and f["severity"] == "error"]


def major_jobs(kube, namespace, name):
    return kube.items("/apis/batch/v1/namespaces/%s/jobs" % namespace,
                      {"labelSelector": "cnpg.io/cluster=%s,cnpg.io/jobRole=%s" % (name, JOB_ROLE)})


def pod_log(kube, namespace, pod, container, tail_lines=15):
    """The last lines of a container's log ('' when it cannot be read): the log endpoint answers text."""
    try:
        resp = kube.api.call_api("/api/v1/namespaces/%s/pods/%s/log" % (namespace, pod), "GET",
                                 query_params=[("container", container), ("tailLines", tail_lines)],
                                 header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"],
                                 _preload_content=False, _return_http_data_only=True, _request_timeout=10)
        data = resp.data
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    except Exception:  # pylint: disable=broad-except  # the error message is best effort
        return ""


def _log_error_lines(text):
    """The lines of a CloudNativePG (JSON) log that say what failed, else the raw tail."""
    picked = []
    for line in (text or "").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            if line.strip():
                picked.append(line.strip())
            continue
        if not isinstance(rec, dict):
            continue
        if rec.get("level") == "error" or rec.get("error"):
            picked.append("%s: %s" % (rec.get("msg") or "", rec.get("error") or ""))
        elif (rec.get("logger") in ("pg_upgrade", "initdb") or "record" in rec) and rec.get("msg"):
            picked.append(str(rec.get("msg")))
    return picked[-5:]


def job_failure(kube, namespace, job):
    """None while the major-upgrade Job has no failed pod, else what its last failed pod said."""
    if not int((job.get("status") or {}).get("failed") or 0):
        return None
    pods = kube.items("/api/v1/namespaces/%s/pods" % namespace,
                      {"labelSelector": "job-name=%s" % job["metadata"]["name"]})
    failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    if not failed:
        return "Job %s has %s failed pod(s)" % (job["metadata"]["name"], job["status"]["failed"])
    pod = sorted(failed, key=lambda p: p["metadata"].get("creationTimestamp") or "")[-1]
    st = pod.get("status") or {}
    for kind in ("initContainerStatuses", "containerStatuses"):
        for cstat in st.get(kind) or []:
            term = (cstat.get("state") or {}).get("terminated") or (cstat.get("lastState") or {}).get("terminated")
            if term and term.get("exitCode"):
                lines = _log_error_lines(pod_log(kube, namespace, pod["metadata"]["name"], cstat["name"]))
                return "container %s of %s exited %s%s" % (cstat["name"], pod["metadata"]["name"], term["exitCode"],
                                                           (": " + " | ".join(lines)) if lines else "")
    return "pod %s of Job %s failed: %s" % (pod["metadata"]["name"], job["metadata"]["name"], st.get("reason") or "?")


def _primary_ready(obj, pods, major):
    """Is the (current) primary pod Ready on a data directory of ``major``?"""
    if data_major(obj) != major:
        return False
    primary = (obj.get("status") or {}).get("currentPrimary")
    for pod in cnpg_cluster.instance_pods(pods):
        if pod["metadata"]["name"] == primary and not pod["metadata"].get("deletionTimestamp"):
            return any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in (pod.get("status") or {}).get("conditions") or [])
    return False


def upgrade_run(obj):
    """The run id a real upgrade left on the Cluster (None when no upgrade of ours is under way)."""
    return cnpg_cluster.annotations(obj).get(RUN_ANNOTATION)


def lower_smart_shutdown(clusters, obj, seconds, run_id=None, settle=SMART_SHUTDOWN_SETTLE, sleep=time.sleep):
    """Set the Cluster's ``spec.smartShutdownTimeout`` to ``seconds`` for the upgrade and keep its own
    value (and ``run_id``) in annotations. The operator deletes every pod for an in-place major
    upgrade; with the default, PostgreSQL's smart shutdown waits up to 180 s for client sessions
    while refusing new ones. The field is read by the instance managers, not part of the pod spec:
    changing it restarts nothing. An annotation left by an earlier attempt is kept (it holds the
    Cluster's own value, not ours). Returns that original value."""
    spec = obj.get("spec") or {}
    current = spec.get("smartShutdownTimeout", DEFAULT_SMART_SHUTDOWN)
    original = cnpg_cluster.annotations(obj).get(SMART_SHUTDOWN_ANNOTATION)
    if original is None:
        original = str(current)
    notes = {SMART_SHUTDOWN_ANNOTATION: original}
    if run_id:
        notes[RUN_ANNOTATION] = run_id
    clusters.merge_patch(obj["metadata"]["name"],
                         {"metadata": {"annotations": notes}, "spec": {"smartShutdownTimeout": int(seconds)}})
    if int(current) != int(seconds) and settle:
        sleep(settle)
    return int(original)


def restore_smart_shutdown(clusters, name, keep_run=False):
    """Put back the ``smartShutdownTimeout`` :func:`lower_smart_shutdown` saved and remove the run's
    annotations; with ``keep_run`` the run's own annotation stays (a failed upgrade: the re-run carries
    that run on). Returns the restored value, or None when nothing was saved."""
    obj = clusters.get(name)
    notes = cnpg_cluster.annotations(obj)
    drop = [SMART_SHUTDOWN_ANNOTATION] + ([] if keep_run else [RUN_ANNOTATION])
    if obj is None or not set(drop) & set(notes):
        return None
    body = {"metadata": {"annotations": dict((key, None) for key in drop)}}
    value = None
    if SMART_SHUTDOWN_ANNOTATION in notes:
        value = int(notes[SMART_SHUTDOWN_ANNOTATION])
        body["spec"] = {"smartShutdownTimeout": value}
    clusters.merge_patch(name, body)
    return value


def _restore_after_failure(clusters, name, keep_run=False):
    """Restore what the run lowered while an error is on its way out; a second error must not hide it.
    ``keep_run`` (production's image was changed): the run's annotation stays, so that a re-run finds
    the run whose upgrade failed and carries it on (its journal and report) instead of starting anew."""
    try:
        restore_smart_shutdown(clusters, name, keep_run=keep_run)
    except RunbookError:  # K8sApiError, CnpgError, a dropped connection: the first error is the one to report
        pass


def _carry_on_note(obj, run_id):
    """What the failure message adds when the run's annotation stays on the Cluster."""
    run = run_id or upgrade_run(obj)
    if not run:
        return ""
    return (" The Cluster keeps the annotation %s=%s: running the runbook again carries this run on (same journal and "
            "report) and waits for the operator again." % (RUN_ANNOTATION, run))


def upgrade_in_place(clusters, name, image, timeout, check_mode=False, max_lag_bytes=None, interval=1.0, clock=time.time,
                     smart_shutdown_timeout=None, run_id=None, settle=SMART_SHUTDOWN_SETTLE, sleep=time.sleep):
    """Raise the Cluster's major with the operator's in-place upgrade and wait until it is
    healthy on it. Returns a result dict with the timings the downtime is predicted from.

    With ``smart_shutdown_timeout`` the Cluster's ``smartShutdownTimeout`` is lowered to it before the
    image changes (:func:`lower_smart_shutdown`) and put back when the wait ends, whether it succeeded
    or failed; ``smart_shutdown_restored`` says to what.
    A re-run after a killed run finds the image already set and only waits (``patched`` False), then
    restores what the killed run lowered (the Cluster's annotations say what; ``resumed_run`` names it).
    A failing upgrade Job stops the wait with the Job's error (the operator would retry for ever).
    """
    kube, ns = clusters.kube, clusters.namespace
    obj = clusters.require(name)
    before = clusters.info(name, max_lag_bytes=max_lag_bytes)
    target_major = cnpg_cluster.image_version(image)[0]
    result = {"namespace": ns, "name": name, "image_before": before["image"], "image": image,
              "data_major_before": data_major(obj), "target_major": target_major, "before": before,
              "changed": False, "patched": False, "resumed_run": upgrade_run(obj) if before["image"] == image else None}
    if before["image"] == image and data_major(obj) == target_major and before["healthy"]:
        result["after"] = before
        # Done already; what a killed run lowered is still to be put back.
        result["changed"] = bool(set(cnpg_cluster.annotations(obj)) & set([SMART_SHUTDOWN_ANNOTATION, RUN_ANNOTATION]))
        if result["changed"] and not check_mode:
            result["smart_shutdown_restored"] = restore_smart_shutdown(clusters, name)
        return result
    if before["image"] != image:
        update.check_target(before["image"], image, "major")
        if not before["healthy"]:
            raise cnpg_cluster.CnpgError(
                "Cluster %s/%s is not healthy, so its major is not raised: %s. Wait for the operator to heal it and "
                "run again; nothing was changed" % (ns, name, "; ".join(before["problems"])), details={"cluster": before})
    result["changed"] = True
    if check_mode:
        result["after"] = before
        return result
    if before["image"] != image:
        if smart_shutdown_timeout is not None:
            result["smart_shutdown_before"] = lower_smart_shutdown(clusters, obj, smart_shutdown_timeout, run_id=run_id,
                                                                   settle=settle, sleep=sleep)
        elif run_id:
            clusters.merge_patch(name, {"metadata": {"annotations": {RUN_ANNOTATION: run_id}}})
    started = clock()
    if before["image"] != image:
        try:
            clusters.patch_image(name, image, switchover=False)
        except K8sApiError as err:
            _restore_after_failure(clusters, name)
            raise update._refused(err, "the image change to %s" % image, ns, name)  # pylint: disable=protected-access
        result["patched"] = True
    result["patched_at"] = started
    marks = {}
    last = {}

    def done():
        cur = clusters.get(name)
        pods = clusters.pods(name)
        now = clock()
        for job in major_jobs(kube, ns, name):
            marks.setdefault("job_seen", now)
            failure = job_failure(kube, ns, job)
            if failure:
                raise cnpg_cluster.CnpgError(
                    "the operator's major upgrade of %s/%s to %s failed: %s. Production's data directory may already "
                    "belong to PostgreSQL %d; do not put the old image back: promote the pre-upgrade clone instead "
                    "(fournines.runbooks.postgres_cnpg_rollback_clone state=promoted)" % (ns, name, image, failure, target_major),
                    details={"job": job["metadata"]["name"]})
        if "primary_ready" not in marks and _primary_ready(cur, pods, target_major):
            marks["primary_ready"] = now
        last["info"] = cnpg_cluster.summarize(cur, pods)
        return last["info"] if last["info"]["healthy"] and data_major(cur) == target_major else None
    try:
        result["after"] = wait_until(done, Deadline(timeout), interval=interval,
                                     what="major upgrade of Cluster %s/%s" % (ns, name))
    except DeadlineExceeded:
        _restore_after_failure(clusters, name, keep_run=True)
        info = last.get("info") or {}
        raise cnpg_cluster.CnpgError("Cluster %s/%s was not healthy on PostgreSQL %d within %d s: %s.%s"
                                     % (ns, name, target_major, timeout, "; ".join(info.get("problems") or []) or "?",
                                        _carry_on_note(obj, run_id)),
                                     details={"cluster": info, "run_kept": run_id or upgrade_run(obj)})
    except cnpg_cluster.CnpgError as err:
        _restore_after_failure(clusters, name, keep_run=True)
        raise cnpg_cluster.CnpgError(str(err) + _carry_on_note(obj, run_id), status=err.status,
                                     details=dict(err.details, run_kept=run_id or upgrade_run(obj)))
    except RunbookError:  # the API gone for good during the wait: production must not keep the lowered shutdown
        _restore_after_failure(clusters, name, keep_run=True)
        raise
    end = clock()
    result["smart_shutdown_restored"] = restore_smart_shutdown(clusters, name)
    result["primary_ready_seconds"] = round(marks.get("primary_ready", end) - started, 1)
    result["healthy_seconds"] = round(end - started, 1)
    return result


def predict_downtime(canary_result, margin=0.25):
    """Production's predicted write downtime from the canary's in-place upgrade: the time its
    primary was unavailable (patch -> primary Ready on the new major). ``pg_upgrade --link``
    hardly depends on the data's size, so the canary's time is the prediction; ``margin`` gives
    the band the measured downtime is judged against."""
    seconds = float(canary_result["primary_ready_seconds"])
    return {"predicted_seconds": round(seconds, 1), "low_seconds": round(seconds * (1 - margin), 1),
            "high_seconds": round(seconds * (1 + margin), 1), "margin": margin}


def rollback_clone_body(prod, name, instances=1):
    """The way back: a replica Cluster of ``prod`` at its current (old) image, streaming from it
    until it stops for the upgrade. Promote it with :func:`promote_patch`."""
    body = cnpg_cluster.canary_body(prod, name, prod["spec"]["imageName"], instances=instances,
                                    labels={"fournines.io/role": "pre-upgrade-clone"})
    body["spec"]["replica"] = {"enabled": True, "source": prod["metadata"]["name"]}
    return body


def promote_patch():
    """The merge patch that promotes the pre-upgrade replica clone (irreversible)."""
    return {"spec": {"replica": {"enabled": False}}}


def _is_clone_of(obj, source):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("fournines.io/canary-of") == source and labels.get("fournines.io/role") == "pre-upgrade-clone"


def ensure_rollback_clone(clusters, source, name, timeout, check_mode=False):
    """Create (absent) and wait for the pre-upgrade replica clone of ``source`` on its current image.

    Refuses a Cluster of that name that is not such a clone. A clone that exists is only waited
    for (a re-run); production must not have been raised yet, or the clone could not stream.
    """
    ns = clusters.namespace
    prod = clusters.require(source)
    existing = clusters.get(name)
    result = {"namespace": ns, "name": name, "source": source, "changed": False}
    if existing is not None:
        if not _is_clone_of(existing, source):
            raise cnpg_cluster.CnpgError("Cluster %s/%s exists and is not the pre-upgrade clone of %s; give another name, "
                                         "nothing was changed" % (ns, name, source))
        image = existing["spec"]["imageName"]
    else:
        image = prod["spec"]["imageName"]
        if data_major(prod) is not None and cnpg_cluster.image_version(image)[0] != data_major(prod):
            raise cnpg_cluster.CnpgError("Cluster %s/%s is already being raised to %s; a pre-upgrade clone can no longer "
                                         "be taken from it" % (ns, source, image))
        result["changed"] = True
        if check_mode:
            return result
        try:
            clusters.create(rollback_clone_body(prod, name))
        except K8sApiError as err:
            raise update._refused(err, "the creation of the pre-upgrade clone %s" % name, ns, source)  # pylint: disable=protected-access
    result["image"] = image
    if check_mode:
        return result
    result["cluster"] = clusters.wait_healthy(name, image, timeout)
    return result


#: Seconds a promoted clone must keep serving writes before :func:`promote_rollback_clone` returns. Once the
#: instance leaves recovery the operator restarts it once more in place to apply a primary's configuration
#: (phases "Applying configuration", then "Primary instance is being restarted in-place", about 1 s after the
#: promotion in the lab, and about 5 s long); a client connecting in between sees "the database system is
#: shutting down".
PROMOTION_SETTLE = 5.0


def _write_check(kube, namespace, name, source):
    """A function that tries one write transaction (``txid_current()``: an xid, no row) on ``name``'s ``-rw``
    Service and returns None, or what stopped it. The clone is a physical copy of ``source``, so the source's
    superuser password is its own until the operator sets the clone's: both Secrets are tried."""
    def check():
        error = "no credentials"
        for owner in (name, source):
            try:
                conn = access.connection(kube, namespace, owner, dbname="postgres")
                if owner != name:
                    conn["host"] = access.connection(kube, namespace, name, dbname="postgres")["host"]
                db = sql.connect(conn, deadline=1.0)
            except RunbookError as err:
                error = str(err)
                continue
            try:
                sql.scalar(db, "SELECT txid_current()")
                return None
            except Exception as err:  # pylint: disable=broad-except  # psycopg2's errors: not serving writes yet
                return str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
            finally:
                db.close()
        return error
    return check


def _serving_view(clusters, name):
    """(problem or None, view): is the Cluster's primary out of recovery, healthy, with no restart pending?"""
    obj = clusters.get(name) or {}
    st = obj.get("status") or {}
    primary = st.get("currentPrimary")
    view = {"phase": st.get("phase"), "primary": primary}
    if not primary or primary != st.get("targetPrimary"):
        return "no settled primary (current %s, target %s)" % (primary, st.get("targetPrimary")), view
    if st.get("phase") != cnpg_cluster.HEALTHY_PHASE:
        return "phase %r (%s)" % (st.get("phase"), st.get("phaseReason") or ""), view
    if any(c.get("type") == "Ready" and c.get("status") != "True" for c in st.get("conditions") or []):
        return "condition Ready is not True", view
    inst = replication.read_status(clusters.kube, clusters.namespace, primary) or {}
    view.update(dict((k, inst.get(k)) for k in ("isPrimary", "pendingRestart", "mightBeUnavailable")))
    if not inst.get("isPrimary"):
        return "instance %s is still in recovery" % primary, view
    if inst.get("pendingRestart") or inst.get("mightBeUnavailable"):
        return "instance %s is about to restart (pendingRestart %s, mightBeUnavailable %s)" % (
            primary, inst.get("pendingRestart"), inst.get("mightBeUnavailable")), view
    return None, view


def promote_rollback_clone(clusters, source, name, timeout, check_mode=False, interval=1.0, settle=PROMOTION_SETTLE,
                           write_check=None, clock=time.time):
    """Promote the pre-upgrade clone (it stops following ``source`` for good) and return only once it
    really serves writes and the operator is done with it: its primary out of recovery, no restart
    pending, the Cluster healthy, and a write transaction through ``<name>-rw`` that succeeds at every
    poll for ``settle`` seconds (at least two, ``settle`` apart). The application is then pointed at
    ``<name>-rw``. ``write_check`` (tests) replaces the SQL check: a function returning None or a reason."""
    ns = clusters.namespace
    obj = clusters.get(name)
    if obj is None or not _is_clone_of(obj, source):
        raise cnpg_cluster.CnpgError("there is no pre-upgrade clone %s/%s of %s to promote" % (ns, name, source))
    replica = (obj.get("spec") or {}).get("replica") or {}
    result = {"namespace": ns, "name": name, "changed": bool(replica.get("enabled"))}
    if check_mode:
        return result
    started = clock()
    if replica.get("enabled"):
        clusters.merge_patch(name, promote_patch())
    deadline = Deadline(timeout)
    check = write_check or _write_check(clusters.kube, ns, name, source)
    state = {"since": None, "problem": None, "writes": 0}

    def settled():
        problem, view = _serving_view(clusters, name)
        if problem is None:
            problem = check()
            if problem:
                problem = "a write through %s-rw failed: %s" % (name, problem)
        state["problem"], state["view"] = problem, view
        now = clock()
        if problem:
            state["since"], state["writes"] = None, 0
            return None
        state["writes"] += 1
        if state["since"] is None:
            state["since"] = now
        return state["writes"] >= 2 and now - state["since"] >= settle
    try:
        wait_until(settled, deadline, interval=interval, what="promotion of %s/%s" % (ns, name))
    except DeadlineExceeded:
        raise cnpg_cluster.CnpgError("the pre-upgrade clone %s/%s did not serve writes steadily within %d s after its promotion: "
                                     "%s (kubectl -n %s get cluster %s)" % (ns, name, timeout, state["problem"] or "?", ns, name),
                                     details={"last_seen": state.get("view")})
    result["serving_after_seconds"] = round(state["since"] - started, 1)
    result["cluster"] = clusters.wait_healthy(name, obj["spec"]["imageName"], max(deadline.remaining(), 1))
    return result


def _ident(name):
    return '"%s"' % name.replace('"', '""')


def post_upgrade(conn, analyze=True, check_mode=False):
    """After the upgrade, in every database that allows connections: ``ALTER EXTENSION ... UPDATE``
    for each extension older than the new major's default version (what pg_upgrade's
    update_extensions.sql does; that file stays in the operator's Job pod), then ``ANALYZE``
    (the planner statistics; PostgreSQL 18 keeps most of them, a full ANALYZE is still correct).
    Returns {"extensions_updated": [...], "analyzed": [...]}."""
    db = sql.connect(conn)
    try:
        databases = [r["datname"] for r in sql.query(db, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]
    finally:
        db.close()
    done = {"extensions_updated": [], "analyzed": []}
    for dbname in databases:
        sub = sql.connect(dict(conn, dbname=dbname))
        try:
            stale = sql.query(sub, "SELECT e.extname AS name, e.extversion AS version, a.default_version AS target"
                                   " FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname"
                                   " WHERE a.default_version IS NOT NULL AND a.default_version <> e.extversion ORDER BY 1")
            for ext in stale:
                if not check_mode:
                    sql.query(sub, "ALTER EXTENSION %s UPDATE" % _ident(ext["name"]))
                done["extensions_updated"].append("%s.%s %s -> %s" % (dbname, ext["name"], ext["version"], ext["target"]))
            if analyze:
                if not check_mode:
                    sql.query(sub, "ANALYZE")
                done["analyzed"].append(dbname)
        finally:
            sub.close()
    return done
