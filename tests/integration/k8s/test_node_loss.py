"""A node stops heartbeating: the real node-lifecycle controller marks it NotReady, taints it,
and after the pods' toleration they are recreated elsewhere; a pod holding a ReadWriteOnce
volume only starts on the new node after the (simulated) force-detach."""

import datetime

import kwoknodes
from k8slab import pod_ready, utc, wait_for

UNREACHABLE = "node.kubernetes.io/unreachable"
PREFIX = "storage.lab.fournines.io/"


def _taint(core, node, key):
    for taint in core.read_node(node).spec.taints or []:
        if taint.key == key and taint.effect == "NoExecute":
            return taint
    return None


def _attachments(sandbox, pv):
    return [va for va in sandbox.storage.list_volume_attachment().items
            if va.spec.source.persistent_volume_name == pv]


def _events(sandbox, pod_name, reason):
    return [e for e in sandbox.core.list_namespaced_event(sandbox.namespace).items
            if e.involved_object.name == pod_name and e.reason == reason]


def _deleted_at(pod):
    """When deletion was asked for: deletionTimestamp is that moment plus the grace period."""
    meta = pod.metadata
    if meta.deletion_timestamp is None:
        return None
    return utc(meta.deletion_timestamp) - datetime.timedelta(seconds=meta.deletion_grace_period_seconds or 0)


def _ready_since(pod):
    for cond in pod.status.conditions or []:
        if cond.type == "Ready" and cond.status == "True":
            return utc(cond.last_transition_time)
    return None


def test_lost_node_pods_move_and_rwo_waits_for_force_detach(sandbox, lab_profile):
    lost, spare = sandbox.nodes
    # Everything starts on `lost`: keep `spare` cordoned until the pods run.
    sandbox.cordon(spare)
    sandbox.deployment("stateless", 2)
    sandbox.claim("data")
    sandbox.deployment("stateful", 1, claim="data", strategy="Recreate")
    before = wait_for("stateless pods Running", lambda: sandbox.running("stateless", 2))
    [old_rwo] = wait_for("stateful pod Running", lambda: sandbox.running("stateful", 1))
    assert {p.spec.node_name for p in before + [old_rwo]} == {lost}
    pv = sandbox.core.read_namespaced_persistent_volume_claim("data", sandbox.namespace).spec.volume_name
    assert [va.spec.node_name for va in _attachments(sandbox, pv)] == [lost]
    assert _events(sandbox, old_rwo.metadata.name, "SuccessfulAttachVolume")
    sandbox.cordon(spare, on=False)

    kwoknodes.stop_heartbeat(sandbox.core, lost)
    grace = lab_profile["NODE_MONITOR_GRACE_PERIOD"]
    status = kwoknodes.wait_ready(sandbox.core, lost, ready=False, timeout=grace * 3 + 30)
    assert status == "Unknown", "the node-lifecycle controller marks a silent node Unknown"
    taint = wait_for("unreachable NoExecute taint on the lost node", lambda: _taint(sandbox.core, lost, UNREACHABLE))

    # After the toleration, the taint manager deletes the pods; the ReplicaSet replaces them on `spare`.
    toleration = lab_profile["DEFAULT_UNREACHABLE_TOLERATION_SECONDS"]
    after = wait_for("stateless pods Running on the spare node",
                     lambda: [p for p in (sandbox.running("stateless", 2) or []) if p.spec.node_name == spare],
                     timeout=toleration * 3 + 60)
    assert len(after) == 2
    for pod in before:
        gone = sandbox.core.read_namespaced_pod(pod.metadata.name, sandbox.namespace)
        assert gone.metadata.deletion_timestamp is not None, "a pod on a lost node stays Terminating"
        waited = (_deleted_at(gone) - utc(taint.time_added)).total_seconds()
        assert waited >= toleration - 1, "evicted %.0fs after the taint, toleration is %ss" % (waited, toleration)

    # The RWO pod: its replacement lands on `spare` but waits on Multi-Attach.
    deleted = wait_for("old stateful pod deleted",
                       lambda: _deleted_at(sandbox.core.read_namespaced_pod(old_rwo.metadata.name, sandbox.namespace)),
                       timeout=toleration * 3 + 60)
    new_rwo = wait_for("replacement stateful pod on the spare node",
                       lambda: [p for p in sandbox.pods("stateful")
                                if p.metadata.name != old_rwo.metadata.name and p.spec.node_name == spare])[0]
    [multi] = wait_for("Multi-Attach event", lambda: _events(sandbox, new_rwo.metadata.name, "FailedAttachVolume"))
    assert multi.type == "Warning"
    assert multi.message.startswith('Multi-Attach error for volume "%s"' % pv)
    still_attached = [va.spec.node_name for va in _attachments(sandbox, pv)]
    current = sandbox.core.read_namespaced_pod(new_rwo.metadata.name, sandbox.namespace)
    if still_attached == [lost]:
        assert not pod_ready(current), "must not run while the volume is attached to the lost node"

    force = lab_profile["VOLUME_FORCE_DETACH_SECONDS"]
    ready = wait_for("replacement stateful pod Ready", lambda: (lambda p: p if pod_ready(p) else None)(
        sandbox.core.read_namespaced_pod(new_rwo.metadata.name, sandbox.namespace)), timeout=force * 3 + 60)
    [va] = _attachments(sandbox, pv)
    assert va.spec.node_name == spare and va.status.attached
    notes = va.metadata.annotations
    assert notes[PREFIX + "previous-node"] == lost
    assert notes[PREFIX + "force-detached"] == "true"
    detached = datetime.datetime.strptime(notes[PREFIX + "detached-at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert (detached - deleted).total_seconds() >= force - 1, "force-detach came before VOLUME_FORCE_DETACH_SECONDS"
    assert _ready_since(ready) >= detached - datetime.timedelta(seconds=1), "pod Ready before the detach"
    assert _events(sandbox, new_rwo.metadata.name, "SuccessfulAttachVolume")

    # The machine comes back: kwok serves the node again and the Terminating pods go away.
    kwoknodes.resume_heartbeat(sandbox.core, lost)
    kwoknodes.wait_ready(sandbox.core, lost, timeout=60)
    wait_for("old pods removed from the recovered node",
             lambda: not [p for p in sandbox.core.list_namespaced_pod(sandbox.namespace).items
                          if p.spec.node_name == lost], timeout=60)


def test_a_node_back_before_eviction_has_its_pods_ready_again(sandbox, lab_profile):
    """A short outage (a reboot inside the unreachable toleration): the node-lifecycle controller
    marks the pods NotReady and, once the node is back, the kubelet (kwok) makes them Ready again
    in place: the same pods, not replacements."""
    lost, spare = sandbox.nodes
    sandbox.cordon(spare)
    try:
        # tolerate the unreachable taint long enough that the taint manager never evicts it
        sandbox.deployment("reboot", 1, tolerations=[{"key": UNREACHABLE, "operator": "Exists",
                                                      "effect": "NoExecute", "tolerationSeconds": 600}])
        [pod] = wait_for("reboot pod Running", lambda: sandbox.running("reboot", 1))
    finally:
        sandbox.cordon(spare, on=False)
    assert pod.spec.node_name == lost

    kwoknodes.stop_heartbeat(sandbox.core, lost)
    grace = lab_profile["NODE_MONITOR_GRACE_PERIOD"]
    kwoknodes.wait_ready(sandbox.core, lost, ready=False, timeout=grace * 3 + 30)
    wait_for("the pod marked NotReady", lambda: not pod_ready(
        sandbox.core.read_namespaced_pod(pod.metadata.name, sandbox.namespace)), timeout=grace * 3 + 30)
    kwoknodes.resume_heartbeat(sandbox.core, lost)
    kwoknodes.wait_ready(sandbox.core, lost, timeout=grace * 3 + 30)
    again = wait_for("the same pod Ready again", lambda: sandbox.running("reboot", 1), timeout=60)
    assert [p.metadata.uid for p in again] == [pod.metadata.uid]
    assert again[0].status.container_statuses[0].restart_count >= 1
