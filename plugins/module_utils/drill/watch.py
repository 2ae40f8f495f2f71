# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A background watcher of the Kubernetes objects a node-failure drill affects.

Started before the fault, it polls the API server every ``interval`` seconds and appends
one line to ``observations.jsonl`` each time something it follows changes: the target
Node (readiness, taints, cordon), the set of Ready Nodes, the pods on the target node and
the pods of their owners and of the app, the VolumeAttachments of their volumes and the
events about them (Multi-Attach warnings, attaches). drill_timeline.py turns the lines into
the drill's timeline. Files in its directory:

- ``watch.json``          the handle: pid, config, started
- ``observations.jsonl``  the changes (format in drill_timeline.py)
- ``watch.log``           the watcher's own errors (API hiccups), no secrets
- ``stopped``             written when it stops (asked to, or after ``max_seconds``)

It runs as a detached process so it outlives the task that starts it, like the prober (the
process mechanics are in background.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import shutil
import sys
import tempfile
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import parse_time

try:
    from kubernetes.client import ApiClient
except ImportError:  # pragma: no cover - reported by kube_from_params
    ApiClient = None

HANDLE = "watch.json"
OBSERVATIONS = "observations.jsonl"
LOG = "watch.log"
STOPPED = background.STOPPED
#: Events kept whatever object they are about (the volume's story); others only for watched pods/the node.
ATTACH_REASONS = ("FailedAttachVolume", "SuccessfulAttachVolume", "FailedMount")


class WatchError(RunbookError):
    """Bad watch input, or a handle that does not belong to a watcher."""


def _owner(pod):
    ref = objects.controller_of(pod)
    if not ref:
        return None
    return "%s/%s/%s" % (pod["metadata"]["namespace"], ref.get("kind"), ref.get("name"))


def pod_record(pod):
    status = pod.get("status") or {}
    meta = pod["metadata"]
    return {"kind": "pod", "uid": meta["uid"], "key": objects.pod_key(pod), "owner": _owner(pod),
            "node": (pod.get("spec") or {}).get("nodeName"), "exists": True, "phase": status.get("phase"),
            "ready": objects.pod_ready(pod), "terminating": bool(meta.get("deletionTimestamp")),
            "daemonset": objects.is_daemonset_pod(pod), "claims": objects.pvc_claims(pod)}


def node_record(node, name):
    if node is None:
        return {"kind": "node", "name": name, "exists": False, "ready": None, "unschedulable": False, "taints": []}
    ready = None
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = cond.get("status")
    taints = sorted("%s:%s" % (t.get("key"), t.get("effect")) for t in (node.get("spec") or {}).get("taints") or [])
    return {"kind": "node", "name": name, "exists": True, "ready": ready,
            "unschedulable": objects.node_unschedulable(node), "taints": taints}


def _event_time(event):
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = event.get(key) or ((event.get("series") or {}).get("lastObservedTime") if key == "eventTime" else None)
        if value:
            try:
                return parse_time(value).timestamp()
            except RunbookError:
                continue
    return None


class Watcher(object):
    """One poll of the cluster -> the changed records. Separate from the process for tests."""

    def __init__(self, kube, node, app=None, namespaces=None):
        self.kube = kube
        self.node = node
        self.app = app or {}
        self.namespaces = set(namespaces or [])
        if self.app.get("namespace"):
            self.namespaces.add(self.app["namespace"])
        self.owners, self.app_owners, self.pvs = set(), set(), set()
        self.last = {}
        self.seen_pods = {}
        self.seen_events = set()
        self.started = time.time()

    def _changed(self, key, record):
        if self.last.get(key) == record:
            return None
        self.last[key] = record
        return record

    def poll(self):
        out = []
        nodes = self.kube.nodes()
        by_name = dict((n["metadata"]["name"], n) for n in nodes)
        out.append(self._changed(("node", self.node), node_record(by_name.get(self.node), self.node)))
        out.append(self._changed(("nodes",), {"kind": "nodes", "names": sorted(by_name),
                                              "ready": sorted(n for n, o in by_name.items() if objects.node_ready(o))}))
        on_node = self.kube.pods(node_name=self.node)
        for pod in on_node:
            if not objects.is_daemonset_pod(pod):
                self.namespaces.add(pod["metadata"]["namespace"])
                if _owner(pod):
                    self.owners.add(_owner(pod))
        pods = dict((p["metadata"]["uid"], p) for p in on_node)
        for namespace in sorted(self.namespaces):
            for pod in self.kube.pods(namespace=namespace):
                is_app = self.app.get("selector") and namespace == self.app.get("namespace") and \
                    objects.selector_matches(self.app["selector"], pod["metadata"].get("labels"))
                if is_app and _owner(pod):
                    self.app_owners.add(_owner(pod))
                    self.owners.add(_owner(pod))
                if is_app or _owner(pod) in self.owners:
                    pods[pod["metadata"]["uid"]] = pod
        claims = set()
        for uid, pod in pods.items():
            rec = pod_record(pod)
            self.seen_pods[uid] = rec
            claims.update((pod["metadata"]["namespace"], c) for c in rec["claims"])
            out.append(self._changed(("pod", uid), rec))
        for uid, rec in list(self.seen_pods.items()):
            if uid not in pods:
                out.append(self._changed(("pod", uid), dict(rec, exists=False, ready=False)))
        for namespace, claim in sorted(claims):
            pvc = self.kube.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (namespace, claim), ok_missing=True)
            volume = ((pvc or {}).get("spec") or {}).get("volumeName")
            if volume:
                self.pvs.add(volume)
        out.append(self._changed(("meta",), {"kind": "meta", "node": self.node, "owners": sorted(self.owners),
                                             "app_owners": sorted(self.app_owners), "pvs": sorted(self.pvs)}))
        vas = self.kube.items("/apis/storage.k8s.io/v1/volumeattachments")
        current = set()
        for va in vas:
            pv = ((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName")
            if pv not in self.pvs:
                continue
            name = va["metadata"]["name"]
            current.add(name)
            out.append(self._changed(("va", name), {
                "kind": "va", "name": name, "pv": pv, "node": (va.get("spec") or {}).get("nodeName"), "exists": True,
                "attached": bool((va.get("status") or {}).get("attached")),
                "terminating": bool(va["metadata"].get("deletionTimestamp"))}))
        for key, rec in list(self.last.items()):
            if key[0] == "va" and key[1] not in current and rec and rec.get("exists"):
                out.append(self._changed(key, dict(rec, exists=False, attached=False)))
        out.extend(self._events(pods))
        return [r for r in out if r]

    def _events(self, pods):
        out = []
        keys = set(p["key"] for p in self.seen_pods.values())
        for namespace in sorted(self.namespaces | set(["default"])):
            for event in self.kube.items("/api/v1/namespaces/%s/events" % namespace):
                obj = event.get("involvedObject") or {}
                ident = (event["metadata"].get("uid"), event.get("count"), event.get("lastTimestamp"))
                if ident in self.seen_events:
                    continue
                when = _event_time(event)
                if when is not None and when < self.started - 60:
                    self.seen_events.add(ident)
                    continue
                about = "%s/%s" % (obj.get("namespace"), obj.get("name")) if obj.get("namespace") else obj.get("name")
                relevant = (obj.get("kind") == "Pod" and about in keys) or (
                    obj.get("kind") == "Node" and obj.get("name") == self.node) or event.get("reason") in ATTACH_REASONS
                self.seen_events.add(ident)
                if relevant:
                    out.append({"kind": "event", "reason": event.get("reason"), "type": event.get("type"),
                                "message": (event.get("message") or "")[:300], "object": "%s/%s" % (obj.get("kind"), about),
                                "time": when})
        return out


# ---- the detached process ---------------------------------------------------------------------

def _append(path, records):
    if not records:
        return
    with open(path, "a") as handle:
        for rec in records:
            handle.write(json.dumps(rec, sort_keys=True) + "\n")


def _read_bytes(path):
    if path and os.path.isfile(path):
        with open(path, "rb") as handle:
            return handle.read()
    return None


def _child_client(configuration, files, tmpdir):
    """A fresh ApiClient for the child: the parent's temp cert files vanish when it exits."""
    conf = copy.deepcopy(configuration)
    for attr, data in files.items():
        if data is not None:
            path = os.path.join(tmpdir, attr)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            setattr(conf, attr, path)
    return client.Kube(ApiClient(configuration=conf))


def run_loop(watcher, directory, interval, max_seconds, should_stop):
    path = os.path.join(directory, OBSERVATIONS)
    end = time.time() + max_seconds
    next_round = time.time()
    while not should_stop() and time.time() < end:
        ts = time.time()
        try:
            records = watcher.poll()
        except Exception as err:  # pylint: disable=broad-except  # an API hiccup must not end the watch
            sys.stderr.write("%.3f poll failed: %s\n" % (ts, str(err)[:300]))
            sys.stderr.flush()
            records = []
        _append(path, [dict(r, ts=round(ts, 3)) for r in records])
        next_round += interval
        delay = next_round - time.time()
        if delay < 0:
            next_round, delay = time.time(), 0
        background.sleep_until(time.time() + delay, should_stop)


def start(directory, kube, node, app=None, namespaces=None, interval=1.0, max_seconds=7200):
    """Start a detached watcher writing to ``directory``; an existing one for it is reused."""
    if not node:
        raise WatchError("no node to watch; give the target node's name")
    if not 0.1 <= float(interval) <= 30:
        raise WatchError("interval %r is not valid; give 0.1 to 30 seconds" % (interval,))
    existing = read_handle(directory)
    if existing and is_running(existing):
        return dict(existing, already_running=True)
    background.prepare(directory)
    conf = kube.api.configuration
    files = dict((attr, _read_bytes(getattr(conf, attr, None))) for attr in ("ssl_ca_cert", "cert_file", "key_file"))
    # The first poll runs here, so an unreachable API fails the task, not the child.
    watcher = Watcher(kube, node, app, namespaces)
    first = watcher.poll()
    now = time.time()
    _append(os.path.join(directory, OBSERVATIONS), [dict(r, ts=round(now, 3)) for r in first])
    pid = background.spawn(lambda: _daemon_main(directory, watcher, conf, files, float(interval), float(max_seconds)))
    handle = {"pid": pid, "dir": os.path.abspath(directory), "node": node, "app": app or {},
              "namespaces": sorted(namespaces or []), "interval": float(interval), "max_seconds": float(max_seconds),
              "started": now, "observations_file": os.path.join(os.path.abspath(directory), OBSERVATIONS)}
    background.write_handle(directory, HANDLE, handle)
    return dict(handle, already_running=False)


def _daemon_main(directory, watcher, conf, files, interval, max_seconds):
    background.redirect_output(os.path.join(directory, LOG))
    should_stop = background.stop_flag()
    tmpdir = tempfile.mkdtemp(prefix="fournines-watch-")
    try:
        watcher.kube = _child_client(conf, files, tmpdir)
        run_loop(watcher, directory, interval, max_seconds, should_stop)
    except Exception as err:  # pylint: disable=broad-except
        sys.stderr.write("watcher stopped: %s\n" % err)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        background.mark_stopped(directory)


def read_handle(directory):
    return background.read_handle(directory, HANDLE)


is_running = background.is_running


def read_observations(directory):
    return background.read_jsonl(os.path.join(directory, OBSERVATIONS))


def stop(directory, wait=5.0):
    """Stop the watcher of ``directory`` if it runs; return its summary."""
    return background.stop(directory, HANDLE, summary, wait=wait, not_started=WatchError(
        "no watcher handle in %s; start one first (state=started)" % directory))


def summary(directory):
    handle = read_handle(directory) or {}
    obs = read_observations(directory)
    kinds = {}
    for rec in obs:
        kinds[rec.get("kind")] = kinds.get(rec.get("kind"), 0) + 1
    return {"dir": directory, "pid": handle.get("pid"), "node": handle.get("node"),
            "running": bool(handle) and is_running(handle), "started": handle.get("started"),
            "observations": len(obs), "by_kind": kinds,
            "observations_file": os.path.join(directory, OBSERVATIONS)}
