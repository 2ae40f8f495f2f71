"""Synthetic drill records shaped like the watcher's and the prober's output (a delete drill)."""

NODE = "lke1-2-old"
NEW_NODE = "lke1-2-new"
OTHER = "lke1-2-other"
T0 = 1000.0
OLD_POD = {"kind": "pod", "uid": "u-old", "key": "app/web-1", "owner": "app/ReplicaSet/web", "node": NODE,
           "exists": True, "phase": "Running", "ready": True, "terminating": False, "daemonset": False,
           "claims": ["web-data"]}
NEW_POD = dict(OLD_POD, uid="u-new", key="app/web-2", node=OTHER, phase="Pending", ready=False)


def node(ts, ready="True", taints=(), exists=True, unschedulable=False):
    return {"ts": ts, "kind": "node", "name": NODE, "exists": exists, "ready": ready,
            "unschedulable": unschedulable, "taints": list(taints)}


def delete_drill(volume_wait=12.0):
    """Fault at T0; NotReady +8; taint +8.5; evicted +14; scheduled +14.5; Multi-Attach +15;
    detached +26; attached +27; Ready +28; replacement node +20."""
    unreachable = ["node.kubernetes.io/unreachable:NoExecute"]
    va_old = {"kind": "va", "name": "csi-old", "pv": "pv-1", "node": NODE, "exists": True, "attached": True}
    obs = [
        {"ts": T0 - 5, "kind": "meta", "node": NODE, "owners": ["app/ReplicaSet/web"],
         "app_owners": ["app/ReplicaSet/web"], "pvs": ["pv-1"]},
        node(T0 - 5),
        {"ts": T0 - 5, "kind": "nodes", "names": [NODE, OTHER], "ready": [NODE, OTHER]},
        dict(OLD_POD, ts=T0 - 5),
        dict(va_old, ts=T0 - 5),
        node(T0 + 8, ready="Unknown"),
        node(T0 + 8.5, ready="Unknown", taints=unreachable),
        dict(OLD_POD, ts=T0 + 14, terminating=True, ready=False),
        dict(NEW_POD, ts=T0 + 14.5),
        {"ts": T0 + 15, "kind": "event", "reason": "FailedAttachVolume", "type": "Warning",
         "message": "Multi-Attach error for volume \"pv-1\" Volume is already exclusively attached to one node",
         "object": "Pod/app/web-2", "time": T0 + 15},
        {"ts": T0 + 20, "kind": "nodes", "names": [NODE, OTHER, NEW_NODE], "ready": [OTHER, NEW_NODE]},
        dict(va_old, ts=T0 + 14 + volume_wait, exists=False, attached=False),
        {"ts": T0 + 15 + volume_wait, "kind": "va", "name": "csi-new", "pv": "pv-1", "node": OTHER, "exists": True,
         "attached": True},
        dict(NEW_POD, ts=T0 + 16 + volume_wait, phase="Running", ready=True),
    ]
    up = lambda ts, ok: {"ts": ts, "ok": {"app": ok}}  # noqa: E731
    recovered = T0 + 17 + volume_wait
    samples = [up(T0 - 2 + i, True) for i in range(2)]
    samples += [up(T0 + i, False) for i in range(int(recovered - T0))]
    samples += [up(recovered + i, True) for i in range(3)]
    return obs, samples
