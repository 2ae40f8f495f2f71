"""k8s/soak.py: what a soak counts as a regression (edge error rate, restarts, unready pods), early end on
zero burn; the Kube is a fake (the boundary) and the clock is simulated."""

import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import soak


def pod(name, uid, restarts=0, ready=True, namespace="app"):
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid},
            "status": {"phase": "Running", "containerStatuses": [{"restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class Kube(object):
    def __init__(self, frames):
        self.frames = list(frames)

    def pods(self, node_name=None, namespace=None):
        frame = self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]
        return [p for p in frame if namespace is None or p["metadata"]["namespace"] == namespace]


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def write_samples(directory, rounds):
    with open(str(directory / "samples.jsonl"), "w") as handle:
        for ts, ok in rounds:
            handle.write(json.dumps({"ts": ts, "ok": {"web": ok}}) + "\n")


def test_a_quiet_soak_passes_after_its_full_time(tmp_path):
    write_samples(tmp_path, [(999.0, False)] + [(1000.0 + i, True) for i in range(10)])  # a failure before it
    clock = Clock()
    out = soak.soak(Kube([[pod("web-1", "u1")]]), 5, probe_dir=str(tmp_path), clock=clock, sleep=clock.sleep)
    assert out["status"] == "passed" and out["seconds"] == 5 and not out["ended_early"]
    assert out["failed_requests"] == 0 and out["requests"] == 10


def test_failed_requests_during_the_soak_are_a_regression(tmp_path):
    write_samples(tmp_path, [(1000.0, True), (1001.0, False), (1002.0, False), (1003.0, True)])
    clock = Clock()
    out = soak.soak(Kube([[]]), 30, probe_dir=str(tmp_path), clock=clock, sleep=clock.sleep)
    assert out["status"] == "regressed" and out["seconds"] == 0
    assert out["reasons"] == ["edge error rate 50.0% (2 of 4 requests failed) is above 0.0%"]


def test_an_error_rate_under_the_threshold_passes(tmp_path):
    write_samples(tmp_path, [(1000.0 + i, i != 3) for i in range(20)])
    clock = Clock()
    out = soak.soak(Kube([[]]), 3, probe_dir=str(tmp_path), limits={"error_rate": 0.1}, clock=clock,
                    sleep=clock.sleep)
    assert out["status"] == "passed" and out["error_rate"] == 0.05


def test_restarts_and_unready_pods_are_regressions():
    clock = Clock()
    frames = [[pod("web-1", "u1"), pod("api-1", "u2")],
              [pod("web-1", "u1", restarts=2), pod("api-1", "u2", ready=False), pod("api-2", "u3", ready=False)]]
    out = soak.soak(Kube(frames), 30, clock=clock, sleep=clock.sleep, limits={"not_ready": 1})
    assert out["status"] == "regressed"
    assert out["restarts"] == {"app/web-1": 2} and out["not_ready"] == ["app/api-1", "app/api-2"]
    assert out["reasons"] == ["2 container restart(s) (app/web-1 +2), more than 0",
                              "2 pod(s) not Ready (app/api-1, app/api-2), more than 1"]


def test_a_pod_already_unready_at_the_start_is_not_charged():
    clock = Clock()
    out = soak.soak(Kube([[pod("stuck", "u9", ready=False)]]), 2, clock=clock, sleep=clock.sleep)
    assert out["status"] == "passed"


def test_zero_burn_ends_a_soak_early(tmp_path):
    write_samples(tmp_path, [(1000.0 + i, True) for i in range(100)])
    clock = Clock()
    out = soak.soak(Kube([[pod("web-1", "u1")]]), 60, probe_dir=str(tmp_path), end_early_after=5, clock=clock,
                    sleep=clock.sleep)
    assert out["status"] == "passed" and out["ended_early"] and out["seconds"] == 5


@pytest.mark.parametrize("limits, match", [
    ({"errors": 1}, "'errors' is not known; valid: error_rate, not_ready, restarts"),
    ({"error_rate": 2}, "out of range"),
    ({"restarts": "many"}, "not a number"),
])
def test_bad_thresholds_name_the_input(limits, match):
    with pytest.raises(soak.SoakError, match=match):
        soak.thresholds(limits)
