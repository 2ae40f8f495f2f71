import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import timeline  # noqa: E402
from drill_fixtures import NODE, OLD_POD, T0, delete_drill, node  # noqa: E402


def test_every_milestone_of_a_delete_drill_in_order():
    obs, samples = delete_drill()
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    rel = tl["relative"]
    assert rel["fault_injected"] == 0
    assert rel["app_down"] == 0
    assert rel["node_not_ready"] == 8
    assert rel["taint_added"] == 8.5
    assert rel["pods_terminating"] == 14
    assert rel["replacement_pod_scheduled"] == 14.5
    assert rel["multi_attach_warning"] == 15
    assert rel["volume_detached"] == 26
    assert rel["volume_attached"] == 27
    assert rel["pod_ready"] == 28
    assert rel["first_200"] == 29
    assert rel["node_replaced"] == 20
    assert rel["node_cordoned"] is None  # nobody cordons a lost node
    assert tl["order_violations"] == []
    assert tl["recovered"] is True
    assert tl["missing"] == ["node_cordoned"]


def test_segments_partition_the_outage_and_match_the_prober():
    obs, samples = delete_drill()
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    names = [s["name"] for s in tl["segments"]]
    assert names == ["detection", "eviction toleration", "rescheduling", "volume wait", "pod start", "edge recovery"]
    seconds = dict((s["name"], s["seconds"]) for s in tl["segments"])
    assert seconds["volume wait"] == 12.5
    assert sum(seconds.values()) == pytest.approx(29.0)
    assert tl["downtime"]["seconds"] == pytest.approx(29.0)
    assert len(tl["downtime"]["intervals"]) == 1
    assert timeline.dominant(tl)["name"] == "volume wait"


def test_longer_volume_wait_moves_only_the_volume_segment():
    short = timeline.build(*delete_drill(volume_wait=12), fault_ts=T0, node=NODE, mode="delete", probe_target="app")
    long_ = timeline.build(*delete_drill(volume_wait=300), fault_ts=T0, node=NODE, mode="delete", probe_target="app")
    s = dict((x["name"], x["seconds"]) for x in short["segments"])
    lg = dict((x["name"], x["seconds"]) for x in long_["segments"])
    assert lg["volume wait"] - s["volume wait"] == pytest.approx(288)
    assert lg["detection"] == s["detection"] and lg["eviction toleration"] == s["eviction toleration"]


def test_out_of_order_milestones_are_reported():
    obs, samples = delete_drill()
    # a taint seen before the node went NotReady by more than the tolerance
    obs = [o for o in obs if not (o["kind"] == "node" and o["ts"] == T0 + 8)]
    obs.append(node(T0 + 1, ready="True", taints=["node.kubernetes.io/unreachable:NoExecute"]))
    obs.append(node(T0 + 8, ready="Unknown", taints=["node.kubernetes.io/unreachable:NoExecute"]))
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    assert tl["relative"]["taint_added"] == 1
    assert any(v.startswith("node_not_ready") for v in tl["order_violations"])


def test_no_downtime_when_the_prober_never_failed():
    obs, samples = delete_drill()
    samples = [dict(s, ok={"app": True}) for s in samples]
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    assert tl["downtime"]["seconds"] == 0
    assert tl["milestones"]["app_down"] is None and tl["milestones"]["first_200"] is None
    assert tl["recovered"] is True


def test_changes_before_the_fault_are_not_milestones():
    obs, samples = delete_drill()
    obs.append(node(T0 - 3, ready="False"))  # a blip before the fault
    obs.sort(key=lambda r: r["ts"])
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    assert tl["relative"]["node_not_ready"] == 8


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode 'reboot' is not one of delete, shutdown, drain"):
        timeline.milestones([], [], T0, NODE, "reboot")


def test_shutdown_node_back_is_the_same_node_ready_again():
    obs, samples = delete_drill()
    obs = [o for o in obs if o["kind"] != "nodes"] + [node(T0 + 60, ready="True")]
    tl = timeline.build(obs, samples, T0, NODE, "shutdown", "app")
    assert tl["relative"]["node_replaced"] == 60


def _short_shutdown(old_pod_back):
    """Node off at T0, NotReady +8, booted and Ready +12 before any eviction; the app answers +13."""
    obs, samples = delete_drill()
    obs = [o for o in obs if o["ts"] < T0] + [
        node(T0 + 8, ready="Unknown"),
        dict(OLD_POD, ts=T0 + 8, ready=False),
        node(T0 + 12, ready="True"),
    ]
    if old_pod_back:
        obs.append(dict(OLD_POD, ts=T0 + 12.5))  # the kubelet restarted it in place
    else:
        obs += [dict(OLD_POD, ts=T0 + 12.5, exists=False, ready=False),
                dict(OLD_POD, uid="u-back", key="app/web-3", ts=T0 + 12.6, phase="Running", ready=True)]
    samples = [s for s in samples if s["ts"] < T0 + 13] + [{"ts": T0 + 13 + i, "ok": {"app": True}} for i in range(3)]
    return obs, samples


@pytest.mark.parametrize("old_pod_back,ready_at", [(True, 12.5), (False, 12.6)])
def test_shutdown_pods_ready_again_on_the_returned_node_is_the_recovery(old_pod_back, ready_at):
    obs, samples = _short_shutdown(old_pod_back)
    tl = timeline.build(obs, samples, T0, NODE, "shutdown", "app")
    assert tl["relative"]["pod_ready"] == ready_at
    assert tl["relative"]["node_replaced"] == 12
    assert tl["relative"]["first_200"] == 13
    assert tl["recovered"] is True
    # a volume attach seen later (the pod's attachment refreshed) is no order violation in place
    obs.append({"ts": T0 + 16, "kind": "event", "reason": "SuccessfulAttachVolume", "type": "Normal",
                "message": "AttachVolume.Attach succeeded", "object": "Pod/app/web-3", "time": T0 + 16})
    assert timeline.build(obs, samples, T0, NODE, "shutdown", "app")["order_violations"] == []


def test_a_pod_back_on_the_lost_node_is_no_recovery_for_a_delete():
    obs, samples = _short_shutdown(True)
    assert timeline.build(obs, samples, T0, NODE, "delete", "app")["relative"]["pod_ready"] is None


def test_drain_segments_start_with_the_eviction():
    obs, samples = delete_drill()
    obs = [o for o in obs if not (o["kind"] == "node" and o["ts"] > T0)]
    obs.append(node(T0 + 0.5, unschedulable=True, taints=["node.kubernetes.io/unschedulable:NoSchedule"]))
    obs.append(node(T0 + 40, ready="Unknown", unschedulable=True))
    obs.sort(key=lambda r: r["ts"])
    tl = timeline.build(obs, samples, T0, NODE, "drain", "app")
    assert tl["fault_ts"] == T0 + 0.5  # the drain's fault is the cordon the watcher saw
    assert tl["relative"]["node_cordoned"] == 0
    assert tl["segments"][0]["name"] == "eviction"
    assert tl["order_violations"] == []
