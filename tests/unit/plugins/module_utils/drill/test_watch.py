"""drill/watch.py: what one poll of the cluster records (only changes), the loop that appends
them, and the start/stop input checks; the Kubernetes API is a fake (the boundary)."""

import datetime
import json
import os
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import watch


def iso(seconds_from_now):
    return (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(seconds=seconds_from_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name, ready="True", taints=None, unschedulable=False):
    return {"metadata": {"name": name}, "spec": dict({"taints": taints or []},
                                                     **({"unschedulable": True} if unschedulable else {})),
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def pod(name, node_name, owner="web-rs", kind="ReplicaSet", namespace="app", labels=None, ready=True, claims=()):
    return {"metadata": {"name": name, "namespace": namespace, "uid": "uid-" + name, "labels": labels or {},
                         "ownerReferences": [{"kind": kind, "name": owner, "controller": True}] if owner else []},
            "spec": {"nodeName": node_name,
                     "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class FakeKube(object):
    host = "https://127.0.0.1:16443"

    def __init__(self):
        self.nodes_ = [node("n1"), node("n2")]
        self.pods_ = [pod("web-1", "n1", labels={"app": "web"}), pod("web-2", "n2", labels={"app": "web"}),
                      pod("agent", "n1", owner="agent-ds", kind="DaemonSet", namespace="kube-system"),
                      pod("db-0", "n2", owner="db", kind="StatefulSet", namespace="data", labels={"app": "db"},
                          claims=["data-db-0"]),
                      pod("other", "n2", owner="other-rs", namespace="app", labels={"app": "other"})]
        self.pvcs = {("data", "data-db-0"): {"spec": {"volumeName": "pv-1"}}}
        self.vas = [{"metadata": {"name": "va-1"}, "spec": {"source": {"persistentVolumeName": "pv-1"},
                                                            "nodeName": "n2"}, "status": {"attached": True}},
                    {"metadata": {"name": "va-x"}, "spec": {"source": {"persistentVolumeName": "pv-other"}}}]
        self.events = {}

    def nodes(self):
        return list(self.nodes_)

    def pods(self, node_name=None, namespace=None):
        return [p for p in self.pods_ if (node_name is None or p["spec"]["nodeName"] == node_name)
                and (namespace is None or p["metadata"]["namespace"] == namespace)]

    def get(self, path, ok_missing=False):
        parts = path.split("/")
        return self.pvcs.get((parts[4], parts[6]))

    def items(self, path):
        if path.endswith("volumeattachments"):
            return list(self.vas)
        return list(self.events.get(path.split("/")[4], []))


def kinds(records):
    return sorted(r["kind"] for r in records)


def test_first_poll_records_the_node_nodes_pods_and_meta():
    kube = FakeKube()
    watcher = watch.Watcher(kube, "n1", app={"namespace": "app", "selector": {"matchLabels": {"app": "web"}}})
    records = watcher.poll()
    by_kind = dict((k, [r for r in records if r["kind"] == k]) for k in set(kinds(records)))
    assert by_kind["node"] == [{"kind": "node", "name": "n1", "exists": True, "ready": "True", "unschedulable": False,
                                "taints": []}]
    assert by_kind["nodes"][0]["ready"] == ["n1", "n2"]
    assert sorted(r["key"] for r in by_kind["pod"]) == ["app/web-1", "app/web-2", "kube-system/agent"]
    meta = by_kind["meta"][0]
    assert meta["owners"] == ["app/ReplicaSet/web-rs"] and meta["app_owners"] == ["app/ReplicaSet/web-rs"]
    assert "app/other" not in [r["key"] for r in by_kind["pod"]]  # neither on the node nor the app's


def test_a_second_poll_records_only_what_changed():
    kube = FakeKube()
    watcher = watch.Watcher(kube, "n1")
    watcher.poll()
    assert watcher.poll() == []
    kube.nodes_[0] = node("n1", ready="Unknown", taints=[{"key": "node.kubernetes.io/unreachable",
                                                          "effect": "NoExecute"}])
    kube.pods_ = [p for p in kube.pods_ if p["metadata"]["name"] != "web-1"] + [pod("web-3", "n2")]
    changes = watcher.poll()
    assert kinds(changes) == ["node", "nodes", "pod", "pod"]
    node_rec = [r for r in changes if r["kind"] == "node"][0]
    assert node_rec["ready"] == "Unknown" and node_rec["taints"] == ["node.kubernetes.io/unreachable:NoExecute"]
    pods = dict((r["key"], r) for r in changes if r["kind"] == "pod")
    assert pods["app/web-1"]["exists"] is False and pods["app/web-1"]["ready"] is False
    assert pods["app/web-3"]["exists"] is True and pods["app/web-3"]["node"] == "n2"  # the owner's replacement


def test_volumes_of_watched_pods_and_their_attachments_are_followed():
    kube = FakeKube()
    watcher = watch.Watcher(kube, "n2")
    records = watcher.poll()
    vas = [r for r in records if r["kind"] == "va"]
    assert vas == [{"kind": "va", "name": "va-1", "pv": "pv-1", "node": "n2", "exists": True, "attached": True,
                    "terminating": False}]
    kube.vas = kube.vas[1:]
    gone = [r for r in watcher.poll() if r["kind"] == "va"]
    assert gone == [dict(vas[0], exists=False, attached=False)]


def test_events_about_watched_objects_once_and_not_old_ones():
    kube = FakeKube()
    kube.events["app"] = [
        {"metadata": {"uid": "e1"}, "count": 1, "lastTimestamp": iso(0), "reason": "Killing", "type": "Normal",
         "message": "Stopping container", "involvedObject": {"kind": "Pod", "namespace": "app", "name": "web-1"}},
        {"metadata": {"uid": "e2"}, "count": 1, "lastTimestamp": iso(-3600), "reason": "Killing",
         "involvedObject": {"kind": "Pod", "namespace": "app", "name": "web-1"}},
        {"metadata": {"uid": "e3"}, "count": 1, "lastTimestamp": iso(0), "reason": "Pulled",
         "involvedObject": {"kind": "Pod", "namespace": "app", "name": "unrelated"}},
        {"metadata": {"uid": "e4"}, "count": 2, "lastTimestamp": iso(0), "reason": "FailedAttachVolume",
         "type": "Warning", "message": "Multi-Attach error", "involvedObject": {"kind": "Pod", "namespace": "app",
                                                                                "name": "unrelated"}}]
    kube.events["default"] = [{"metadata": {"uid": "e5"}, "count": 1, "lastTimestamp": iso(0), "reason": "NodeNotReady",
                               "involvedObject": {"kind": "Node", "name": "n1"}}]
    watcher = watch.Watcher(kube, "n1")
    events = [r for r in watcher.poll() if r["kind"] == "event"]
    assert sorted((e["reason"], e["object"]) for e in events) == [
        ("FailedAttachVolume", "Pod/app/unrelated"), ("Killing", "Pod/app/web-1"), ("NodeNotReady", "Node/n1")]
    assert [r for r in watcher.poll() if r["kind"] == "event"] == []  # each event once


def test_records_of_a_missing_node():
    assert watch.node_record(None, "gone") == {"kind": "node", "name": "gone", "exists": False, "ready": None,
                                               "unschedulable": False, "taints": []}


def test_run_loop_appends_timestamped_changes_and_survives_api_hiccups(tmp_path, capsys):
    class Flaky(object):
        calls = 0

        def poll(self):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("connection reset")
            return [{"kind": "node", "n": self.calls}]

    flaky = Flaky()
    watch.run_loop(flaky, str(tmp_path), 0.01, 10, lambda: flaky.calls >= 3)
    lines = [json.loads(l) for l in (tmp_path / watch.OBSERVATIONS).read_text().splitlines()]
    assert [l["n"] for l in lines] == [1, 3] and all("ts" in l for l in lines)
    assert "poll failed: connection reset" in capsys.readouterr().err


@pytest.mark.parametrize("node_name, interval, message", [
    ("", 1.0, "no node to watch; give the target node's name"),
    ("n1", 0.01, "interval 0.01 is not valid; give 0.1 to 30 seconds"),
    ("n1", 60, "interval 60 is not valid"),
])
def test_start_refuses_bad_input_before_polling(tmp_path, node_name, interval, message):
    with pytest.raises(watch.WatchError, match=message):
        watch.start(str(tmp_path), FakeKube(), node_name, interval=interval)


def test_stop_without_a_watcher_says_how_to_start_one(tmp_path):
    with pytest.raises(watch.WatchError, match="no watcher handle in %s; start one first" % tmp_path):
        watch.stop(str(tmp_path))


def test_summary_counts_observations_by_kind(tmp_path):
    (tmp_path / watch.OBSERVATIONS).write_text("\n".join(json.dumps(r) for r in (
        {"kind": "node"}, {"kind": "pod"}, {"kind": "pod"})) + "\n")
    out = watch.summary(str(tmp_path))
    assert out["observations"] == 3 and out["by_kind"] == {"node": 1, "pod": 2} and out["running"] is False
