"""testinfra checks after converge: the drill ran end to end, its timeline and ledger tell the truth."""

import glob
import json
import os

import pytest

DIR = os.environ["DRILL_DIR"]
#: The causal chain of a lost node under the app's pod, in order.
CHAIN = ("fault_injected", "node_not_ready", "taint_added", "pods_terminating", "replacement_pod_scheduled",
         "volume_attached", "pod_ready", "first_200")
EVERY = CHAIN + ("app_down", "multi_attach_warning", "volume_detached", "node_replaced")


def _lines(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def run():
    runs = sorted(glob.glob(os.path.join(DIR, "reports", "node-failure-drill-*")))
    assert runs, "the drill wrote no run under %s/reports" % DIR
    with open(os.path.join(runs[-1], "report.json")) as handle:
        data = json.load(handle)
    return runs[-1], data


def test_the_run_finished_and_the_report_files_exist(host, run):
    path, data = run
    assert data["status"] == "done"
    assert [s["name"] for s in data["steps"] if s["name"] in ("preflight", "inject", "cleanup", "report")] == [
        "preflight", "inject", "cleanup", "report"]
    md = host.file(os.path.join(path, "report.md"))
    assert md.exists and "## Where the time went" in md.content_string and "![timeline](timeline.png)" in md.content_string
    png = host.file(os.path.join(path, "timeline.png"))
    assert png.exists and png.size > 10000
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_phase_was_observed_in_order(run):
    drill = run[1]["report"]["drill"]
    rel = drill["relative"]
    missing = [m for m in EVERY if rel.get(m) is None]
    assert not missing, "phases not observed: %s" % missing
    times = [rel[m] for m in CHAIN]
    assert times == sorted(times), "out of order: %s" % list(zip(CHAIN, times))
    assert rel["multi_attach_warning"] >= rel["replacement_pod_scheduled"]
    assert rel["volume_detached"] <= rel["volume_attached"]
    assert drill["order_violations"] == []
    names = [s["name"] for s in drill["segments"]]
    assert names == ["detection", "eviction toleration", "rescheduling", "volume wait", "pod start", "edge recovery"]
    assert sum(s["seconds"] for s in drill["segments"]) == pytest.approx(rel["first_200"], abs=0.5)


def test_the_downtime_is_what_the_prober_recorded(run):
    path, data = run
    drill = data["report"]["drill"]
    samples = _lines(os.path.join(path, "probe", "samples.jsonl"))
    fault = drill["fault_ts"]
    after = [s for s in samples if s["ts"] >= fault - 1]
    failed = [s for s in after if not s["ok"]["app"]]
    assert failed, "the prober never saw the app fail"
    # one outage: from the first failed round to the first good round after it
    first_bad = failed[0]["ts"]
    first_good = next(s["ts"] for s in after if s["ts"] > first_bad and s["ok"]["app"])
    assert drill["downtime_seconds"] == pytest.approx(first_good - first_bad, abs=0.05)
    assert drill["downtime"]["failed"] == len([s for s in samples if s["ts"] >= fault and not s["ok"]["app"]])
    failures = _lines(os.path.join(path, "probe", "failures.jsonl"))
    assert len(failures) >= len(failed)
    assert all(f["status"] == 503 or f["error"] for f in failures)


def test_the_ledger_holds_the_drill_once_tagged_drill(run):
    path, data = run
    drill = data["report"]["drill"]
    ledger = [r for r in _lines(os.path.join(DIR, "downtime.jsonl")) if r.get("run_id") == data["run_id"]]
    assert len(ledger) == 1
    rec = ledger[0]
    assert "drill" in rec["tags"] and "mode:delete" in rec["tags"] and rec["source"] == "node-failure-drill"
    from datetime import datetime
    seconds = (datetime.fromisoformat(rec["end"].replace("Z", "+00:00"))
               - datetime.fromisoformat(rec["start"].replace("Z", "+00:00"))).total_seconds()
    assert seconds == pytest.approx(drill["downtime_seconds"], abs=1.0)


def test_the_advice_explains_the_volume_wait(run):
    advice = run[1]["report"]["drill"]["advice"]
    assert advice[0]["id"] == "rwo-single-replica"
    assert "web-data" in advice[0]["text"]


def test_nothing_is_left_changed(host, run):
    path, data = run
    from kubernetes import client, config
    core = client.CoreV1Api(config.new_client_from_config(config_file=os.environ["KUBECONFIG"]))
    lke = [n for n in core.list_node().items if n.metadata.name.startswith("lke")]
    assert lke and not [n.metadata.name for n in lke if n.spec.unschedulable]
    assert not [n.metadata.name for n in lke
                if any(t.key == "node.kubernetes.io/out-of-service" for t in n.spec.taints or [])]
    for sub in ("probe/stopped", "watch/stopped"):
        assert host.file(os.path.join(path, sub)).exists, "%s still running" % sub.split("/")[0]
    status = host.run("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: web.lab.fournines.test' %s",
                      os.environ["EDGE_URL"])
    assert status.stdout == "200"
