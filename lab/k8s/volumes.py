"""Lab volume controller: a SIMULATION OF THE STORAGE LAYER (CSI driver + attach/detach).

kwok runs no kubelet and no CSI driver, so nothing would ever provision, attach or detach the
lab's block volumes. This controller plays those parts for the StorageClasses whose
provisioner is the lab driver (blockstorage.lab.fournines.io), with LKE's observable behaviour:

* provisioning: a Pending claim gets a PersistentVolume (like the external-provisioner);
  released PVs with reclaimPolicy Delete are deleted;
* attach: a pod bound to a Ready node gets a real storage.k8s.io VolumeAttachment per volume
  (status.attached=true) and the event "SuccessfulAttachVolume"; only then does it get the
  annotation storage.lab.fournines.io/volumes-attached=true, which kwok's pod-ready Stage
  waits for (lab/k8s/kwok.yaml.in). Until then the pod stays ContainerCreating;
* ReadWriteOnce: while the volume is attached to another node, the pod gets the event
  "FailedAttachVolume: Multi-Attach error for volume ..." (the real attach/detach
  controller's wording) and waits;
* detach: from a healthy node, as soon as no pod there uses the volume. From a lost node
  (NotReady/Unknown or deleted) the kubelet never confirms the unmount, so, as the real
  controller does, the volume is force-detached only VOLUME_FORCE_DETACH_SECONDS after its
  pods were deleted (6 minutes in production), or at once when the node carries the
  node.kubernetes.io/out-of-service taint.

The kube-controller-manager's own attachdetach controller is disabled in the lab
(lab/k8s/up) because it cannot work without kubelets and would fight over the objects.
New VolumeAttachments record where the volume came from and when it was detached
(annotations storage.lab.fournines.io/previous-node, .../detached-at, .../force-detached),
so drills can read the timeline.
"""

import argparse
import datetime
import hashlib
import sys
import time
import traceback
import uuid

from kubernetes import client, config
from kubernetes.client.rest import ApiException

DRIVER = "blockstorage.lab.fournines.io"
PREFIX = "storage.lab.fournines.io/"
ANN_ATTACHED = PREFIX + "volumes-attached"
ANN_DETACH_REQUESTED = PREFIX + "detach-requested-at"
ANN_SIMULATED = PREFIX + "simulated"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
COMPONENT = "attachdetach-controller"
EVENT_REPEAT_SECONDS = 10


def log(msg):
    print("%s %s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"), msg), flush=True)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def node_healthy(node):
    if node is None:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def out_of_service(node):
    return node is not None and any(t.key == OUT_OF_SERVICE for t in (node.spec.taints or []))


def va_name(pv, node):
    # Same shape as the real external-attacher's names: csi-<sha256 of handle, driver, node>.
    return "csi-" + hashlib.sha256(("%s%s%s" % (pv, DRIVER, node)).encode()).hexdigest()


def exclusive(pv):
    modes = set(pv.spec.access_modes or [])
    return not modes & {"ReadWriteMany", "ReadOnlyMany"}


class Controller:
    def __init__(self, core, storage, force_detach_seconds, attach_seconds):
        self.core = core
        self.storage = storage
        self.force_detach = force_detach_seconds
        self.attach_delay = attach_seconds
        self.first_seen = {}     # pod uid -> when we first saw it bound (attach delay)
        self.events = {}         # (uid, reason, message) -> [event name, count, last emitted]
        self.last_detach = {}    # pv name -> (node, when, forced)

    # ---- events ---------------------------------------------------------------------------
    def event(self, obj, kind, etype, reason, message):
        key = (obj.metadata.uid, reason, message)
        now = time.time()
        seen = self.events.get(key)
        if seen and now - seen[2] < EVENT_REPEAT_SECONDS:
            return
        ns = obj.metadata.namespace or "default"
        try:
            if seen:
                seen[1] += 1
                seen[2] = now
                self.core.patch_namespaced_event(seen[0], ns, {"count": seen[1], "lastTimestamp": _iso(now)})
                return
            name = "%s.%s" % (obj.metadata.name, uuid.uuid4().hex[:16])
            body = {
                "metadata": {"name": name, "namespace": ns, "annotations": {ANN_SIMULATED: "true"}},
                "involvedObject": {"apiVersion": "v1", "kind": kind, "namespace": obj.metadata.namespace,
                                   "name": obj.metadata.name, "uid": obj.metadata.uid},
                "reason": reason, "message": message, "type": etype, "count": 1,
                "firstTimestamp": _iso(now), "lastTimestamp": _iso(now),
                "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
                "reportingInstance": "lab-volumes",
            }
            self.core.create_namespaced_event(ns, body)
            self.events[key] = [name, 1, now]
        except ApiException as err:
            log("event %s for %s/%s not recorded: %s" % (reason, ns, obj.metadata.name, err.reason))

    # ---- provisioning -----------------------------------------------------------------------
    def provision(self, pvcs, classes, pvs):
        for pvc in pvcs:
            sc = classes.get(pvc.spec.storage_class_name or "")
            if sc is None or pvc.status.phase != "Pending" or pvc.spec.volume_name:
                continue
            name = "pvc-" + pvc.metadata.uid
            if name in pvs:
                continue
            size = (pvc.spec.resources.requests or {}).get("storage", "10Gi")
            body = {
                "metadata": {"name": name, "annotations": {
                    "pv.kubernetes.io/provisioned-by": DRIVER, ANN_SIMULATED: "true"}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": pvc.spec.access_modes or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": sc.reclaim_policy or "Delete",
                    "storageClassName": sc.metadata.name,
                    "volumeMode": pvc.spec.volume_mode or "Filesystem",
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                 "namespace": pvc.metadata.namespace, "name": pvc.metadata.name,
                                 "uid": pvc.metadata.uid},
                    "csi": {"driver": DRIVER, "volumeHandle": "lab-" + pvc.metadata.uid, "fsType": "ext4"},
                },
            }
            try:
                self.core.create_persistent_volume(body)
            except ApiException as err:
                if err.status != 409:
                    raise
                continue
            log("provisioned %s for %s/%s" % (name, pvc.metadata.namespace, pvc.metadata.name))
            self.event(pvc, "PersistentVolumeClaim", "Normal", "ProvisioningSucceeded",
                       "Successfully provisioned volume %s" % name)

    def reclaim(self, pvs, vas):
        attached = {va.spec.source.persistent_volume_name for va in vas}
        for pv in pvs.values():
            if (pv.status.phase == "Released" and pv.spec.persistent_volume_reclaim_policy == "Delete"
                    and pv.metadata.name not in attached):
                try:
                    self.core.delete_persistent_volume(pv.metadata.name)
                    log("deleted released volume %s" % pv.metadata.name)
                except ApiException as err:
                    if err.status != 404:
                        raise

    # ---- attach / detach --------------------------------------------------------------------
    def detach(self, vas, nodes, users):
        """Remove VolumeAttachments whose node no longer needs them (see module doc)."""
        now = time.time()
        left = []
        for va in vas:
            pv, node_name = va.spec.source.persistent_volume_name, va.spec.node_name
            node = nodes.get(node_name)
            pods = users.get((pv, node_name), [])
            forced = False
            if node_healthy(node):
                if pods:
                    left.append(va)
                    continue
            elif any(p.metadata.deletion_timestamp is None for p in pods):
                # A pod on the lost node still counts as running: nothing asked for a detach yet.
                left.append(va)
                continue
            elif not out_of_service(node):
                requested = (va.metadata.annotations or {}).get(ANN_DETACH_REQUESTED)
                if requested is None:
                    self.storage.patch_volume_attachment(
                        va.metadata.name, {"metadata": {"annotations": {ANN_DETACH_REQUESTED: _iso(now)}}})
                    log("%s: detach from lost node %s requested; force detach in %ss"
                        % (pv, node_name, self.force_detach))
                    left.append(va)
                    continue
                if now - _parse_iso(requested) < self.force_detach:
                    left.append(va)
                    continue
                forced = True
            try:
                self.storage.delete_volume_attachment(va.metadata.name)
            except ApiException as err:
                if err.status != 404:
                    raise
            self.last_detach[pv] = (node_name, now, forced)
            log("%s: detached from %s%s" % (pv, node_name, " (forced: node lost)" if forced else ""))
        return left

    def attach(self, pods, vas, nodes, pod_pvs, pvs, users):
        now = time.time()
        by_pv = {}
        for va in vas:
            by_pv.setdefault(va.spec.source.persistent_volume_name, []).append(va)
        for pod in pods:
            volumes = pod_pvs.get(pod.metadata.uid)
            node_name = pod.spec.node_name
            if (not volumes or pod.metadata.deletion_timestamp is not None
                    or (pod.metadata.annotations or {}).get(ANN_ATTACHED) == "true"
                    or not node_healthy(nodes.get(node_name))):
                continue
            first = self.first_seen.setdefault(pod.metadata.uid, now)
            if now - first < self.attach_delay:
                continue
            ready = True
            for pv_name in volumes:
                current = by_pv.get(pv_name, [])
                if any(va.spec.node_name == node_name for va in current):
                    continue
                if current and exclusive(pvs[pv_name]):
                    ready = False
                    others = sorted(p.metadata.name for (pv, n), lst in users.items()
                                    if pv == pv_name and n != node_name for p in lst
                                    if p.metadata.namespace == pod.metadata.namespace)
                    if others:
                        why = "Volume is already used by pod(s) %s" % ", ".join(others)
                    else:
                        why = "Volume is already exclusively attached to one node and can't be attached to another"
                    self.event(pod, "Pod", "Warning", "FailedAttachVolume",
                               'Multi-Attach error for volume "%s" %s' % (pv_name, why))
                    continue
                by_pv.setdefault(pv_name, []).append(self.create_attachment(pv_name, node_name))
                self.event(pod, "Pod", "Normal", "SuccessfulAttachVolume",
                           'AttachVolume.Attach succeeded for volume "%s"' % pv_name)
            if ready:
                self.core.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                               {"metadata": {"annotations": {ANN_ATTACHED: "true"}}})

    def create_attachment(self, pv_name, node_name):
        annotations = {ANN_SIMULATED: "true"}
        previous = self.last_detach.pop(pv_name, None)
        if previous:
            annotations[PREFIX + "previous-node"] = previous[0]
            annotations[PREFIX + "detached-at"] = _iso(previous[1])
            annotations[PREFIX + "force-detached"] = "true" if previous[2] else "false"
        body = {"metadata": {"name": va_name(pv_name, node_name), "annotations": annotations},
                "spec": {"attacher": DRIVER, "nodeName": node_name,
                         "source": {"persistentVolumeName": pv_name}}}
        try:
            va = self.storage.create_volume_attachment(body)
        except ApiException as err:
            if err.status != 409:
                raise
            va = self.storage.read_volume_attachment(body["metadata"]["name"])
        self.storage.patch_volume_attachment_status(va.metadata.name, {"status": {"attached": True}})
        log("%s: attached to %s" % (pv_name, node_name))
        return va

    # ---- one pass ---------------------------------------------------------------------------
    def sync(self):
        classes = {sc.metadata.name: sc for sc in self.storage.list_storage_class().items
                   if sc.provisioner == DRIVER}
        nodes = {n.metadata.name: n for n in self.core.list_node().items}
        pvcs = self.core.list_persistent_volume_claim_for_all_namespaces().items
        pvs = {pv.metadata.name: pv for pv in self.core.list_persistent_volume().items
               if pv.spec.csi is not None and pv.spec.csi.driver == DRIVER}
        self.provision(pvcs, classes, pvs)
        vas = [va for va in self.storage.list_volume_attachment().items if va.spec.attacher == DRIVER]
        self.reclaim(pvs, vas)
        claims = {(c.metadata.namespace, c.metadata.name): c.spec.volume_name for c in pvcs}
        pods = self.core.list_pod_for_all_namespaces(field_selector="spec.nodeName!=").items
        pod_pvs, users = {}, {}
        for pod in pods:
            if pod.status.phase in ("Succeeded", "Failed"):
                continue
            names = [claims.get((pod.metadata.namespace, v.persistent_volume_claim.claim_name))
                     for v in pod.spec.volumes or [] if v.persistent_volume_claim]
            mine = [n for n in names if n in pvs]
            if mine:
                pod_pvs[pod.metadata.uid] = mine
                for pv in mine:
                    users.setdefault((pv, pod.spec.node_name), []).append(pod)
        vas = self.detach(vas, nodes, users)
        self.attach(pods, vas, nodes, pod_pvs, pvs, users)
        live = {p.metadata.uid for p in pods}
        self.first_seen = {uid: t for uid, t in self.first_seen.items() if uid in live}


def main(argv=None):
    parser = argparse.ArgumentParser(description="lab volume controller (simulated storage layer)")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--force-detach-seconds", type=float, required=True)
    parser.add_argument("--attach-seconds", type=float, default=0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    api = config.new_client_from_config(config_file=args.kubeconfig)
    ctl = Controller(client.CoreV1Api(api), client.StorageV1Api(api), args.force_detach_seconds,
                     args.attach_seconds)
    log("started: driver %s, force detach after %ss" % (DRIVER, args.force_detach_seconds))
    while True:
        try:
            ctl.sync()
        except Exception:  # noqa: BLE001 - keep serving; the API may be restarting
            log("sync failed:\n" + traceback.format_exc())
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
