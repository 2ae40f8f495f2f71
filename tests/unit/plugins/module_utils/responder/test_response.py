from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import incident, orchestrate, response

from responder_fixtures import FakeKube, node

FENCED = {"node": "a", "instance_id": 1, "verdict": "deleted", "fenced": True, "reason": "instance 1 gone", "checked": 1.0}


def _taints(kube, name):
    return [t["key"] for t in kube.node(name)["spec"]["taints"]]


def test_the_taint_is_written_only_after_a_fresh_fence():
    kube = FakeKube([node("a", "Unknown", instance=1)])
    applied, reason, verdict = response.apply_taint(kube, "a", "run-1", lambda n: FENCED, Deadline(5))
    assert applied and verdict["verdict"] == "deleted"
    assert _taints(kube, "a") == [incident.OUT_OF_SERVICE_KEY]
    assert incident.responder_incident(kube.node("a")) == "run-1"


def test_a_node_that_came_back_or_whose_instance_runs_gets_nothing():
    kube = FakeKube([node("a", "True", instance=1)])
    applied, reason, dummy = response.apply_taint(kube, "a", "run-1", lambda n: FENCED, Deadline(5))
    assert not applied and "came back before the taint" in reason and kube.patches == []
    kube = FakeKube([node("a", "Unknown", instance=1)])
    running = dict(FENCED, verdict="running", fenced=False, reason="instance 1 is running")
    applied, reason, dummy = response.apply_taint(kube, "a", "run-1", lambda n: running, Deadline(5))
    assert not applied and kube.patches == []


def test_a_heartbeat_between_the_check_and_the_write_makes_it_decide_again():
    kube = FakeKube([node("a", "Unknown", instance=1)])
    kube.conflicts = 1

    def back(k):  # the Node changed (Ready again) while the first write was in flight
        k.nodes_["a"]["status"]["conditions"][0]["status"] = "True"
    kube.before_patch = back
    applied, reason, dummy = response.apply_taint(kube, "a", "run-1", lambda n: FENCED, Deadline(5))
    assert not applied and "came back" in reason and kube.patches == []


def test_release_only_takes_the_responders_taint_off_a_ready_node():
    taint = {"key": incident.OUT_OF_SERVICE_KEY, "effect": "NoExecute"}
    other = {"key": "dedicated", "effect": "NoSchedule"}
    kube = FakeKube([node("lost", "Unknown", taints=[taint], annotations={incident.INCIDENT: "r"}),
                     node("back", "True", taints=[taint, other], annotations={incident.INCIDENT: "r"}),
                     node("theirs", "True", taints=[taint])])
    released = orchestrate.release_healthy(kube)
    assert [r["node"] for r in released] == ["back"]
    assert _taints(kube, "back") == ["dedicated"]
    assert _taints(kube, "lost") == [incident.OUT_OF_SERVICE_KEY]
    assert _taints(kube, "theirs") == [incident.OUT_OF_SERVICE_KEY]


def test_progress_waits_for_replicas_and_the_volume_on_another_node():
    pod = {"metadata": {"namespace": "app", "name": "web-1", "uid": "u1",
                        "ownerReferences": [{"controller": True, "kind": "ReplicaSet", "name": "web-x"}]},
           "spec": {"nodeName": "a", "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "web-data"}}]},
           "status": {"phase": "Running"}}
    rs = "/apis/apps/v1/namespaces/app/replicasets/web-x"
    pvc = "/api/v1/namespaces/app/persistentvolumeclaims/web-data"
    kube = FakeKube([node("a", "Unknown")], pods=[pod], objects={
        rs: {"spec": {"replicas": 1}, "status": {"readyReplicas": 0}}, pvc: {"spec": {"volumeName": "pv-1"}}},
        attachments=[{"spec": {"nodeName": "a", "source": {"persistentVolumeName": "pv-1"}}, "status": {"attached": True}}])
    pods = response.snapshot(kube, "a")
    assert pods[0]["claims"] == ["web-data"]
    assert response.progress(kube, "a", pods) == {"pods_gone": False, "replaced": False, "volumes_attached": False}
    kube.pods_ = []
    kube.objects[rs]["status"]["readyReplicas"] = 1  # the ReplicaSet's status lags: no pod is Ready anywhere
    assert response.progress(kube, "a", pods)["replaced"] is False
    kube.pods_ = [{"metadata": {"namespace": "app", "name": "web-2", "uid": "u2",
                                "ownerReferences": [{"controller": True, "kind": "ReplicaSet", "name": "web-x"}]},
                   "spec": {"nodeName": "b"},
                   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}]
    assert response.progress(kube, "a", pods)["volumes_attached"] is False  # still attached to the lost node
    kube.attachments = [{"spec": {"nodeName": "b", "source": {"persistentVolumeName": "pv-1"}}, "status": {"attached": True}}]
    assert response.progress(kube, "a", pods) == {"pods_gone": True, "replaced": True, "volumes_attached": True}


def test_the_fenced_nodes_pods_are_force_deleted_only_while_it_is_lost_and_tainted():
    taint = {"key": incident.OUT_OF_SERVICE_KEY, "effect": "NoExecute"}
    pod = {"metadata": {"namespace": "app", "name": "web-1", "uid": "u1"}, "spec": {"nodeName": "a"},
           "status": {"phase": "Running"}}
    snap = [{"namespace": "app", "name": "web-1", "uid": "u1"}]
    kube = FakeKube([node("a", "True", taints=[taint])], pods=[dict(pod)])
    assert response.force_delete(kube, "a", snap) == []  # Ready again: never
    kube = FakeKube([node("a", "Unknown")], pods=[dict(pod)])
    assert response.force_delete(kube, "a", snap) == []  # no taint: not fenced by us
    kube = FakeKube([node("a", "Unknown", taints=[taint])], pods=[dict(pod)])
    assert response.force_delete(kube, "a", snap) == ["app/web-1"]
    assert kube.deleted[0][2]["gracePeriodSeconds"] == 0 and kube.deleted[0][2]["preconditions"] == {"uid": "u1"}
