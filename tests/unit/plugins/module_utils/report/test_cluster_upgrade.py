"""report/cluster_upgrade.py: the upgrade report built from a run journal and a probe summary
(step rows, merged downtime, ledger charges once per run, the Markdown/JSON/PNG written)."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.report import cluster_upgrade
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal

T0 = 1764244800.0  # 2025-11-27T12:00:00Z


def at(seconds):
    return slo.format_time(slo.parse_time(T0 + seconds))


@pytest.mark.parametrize("name, kind", [
    ("control plane 1.33 -> 1.34", "control plane"), ("resize pool 101 to 4", "resize pool"),
    ("drain lke7-11", "drain"), ("recycle lke7-11", "recycle"), ("delete node 7-9", "delete node"),
    ("preflight", "preflight"), ("postflight checks", "postflight"), ("report", "other"), ("redrain", "other"),
])
def test_step_kind(name, kind):
    assert cluster_upgrade.step_kind(name) == kind


def test_step_rows_time_each_step():
    state = {"steps": [{"name": "drain n1", "status": "done", "started": at(0), "finished": at(42)},
                       {"name": "recycle n1", "status": "running", "started": at(43), "finished": None}]}
    rows = cluster_upgrade.step_rows(state)
    assert rows[0] == {"name": "drain n1", "kind": "drain", "status": "done", "start": T0, "end": T0 + 42,
                       "seconds": 42.0}
    assert rows[1]["end"] is None and rows[1]["seconds"] is None
    assert cluster_upgrade.step_rows({}) == []


def probe(intervals_by_target, tmp_path):
    """A prober summary (as common/prober.py writes it) whose failures file holds one failed request
    per second of each target's downtime."""
    directory = tmp_path / "run" / "probe"
    directory.mkdir(parents=True, exist_ok=True)
    with open(str(directory / prober.FAILURES), "w") as handle:
        for name, intervals in intervals_by_target.items():
            for start, end in intervals:
                handle.write(json.dumps({"ts": start, "target": name, "error": "HTTP 503"}) + "\n")
    return {"dir": str(directory), "requests": 100, "failed_requests": 3,
            "failures_file": str(directory / prober.FAILURES),
            "targets": dict((name, {"requests": 50, "failed_requests": len(iv), "downtime_seconds": sum(e - s for s, e in iv),
                                    "downtime_intervals": [{"start": s, "end": e} for s, e in iv]})
                            for name, iv in intervals_by_target.items())}


def test_probe_intervals_merge_every_targets_downtime(tmp_path):
    summary = probe({"web": [(T0 + 10, T0 + 12), (T0 + 30, T0 + 31)], "api": [(T0 + 11, T0 + 14)]}, tmp_path)
    merged = cluster_upgrade.probe_intervals(summary)
    assert [(s - T0, e - T0) for s, e in merged] == [(10, 14), (30, 31)]
    assert cluster_upgrade.probe_intervals(None) == []


def test_charge_ledger_once_per_run_and_interval(tmp_path):
    ledger = str(tmp_path / "ledger" / "downtime.jsonl")
    intervals = [(T0 + 10, T0 + 14), (T0 + 30, T0 + 31)]
    assert cluster_upgrade.charge_ledger(ledger, "run-1", intervals) == 2
    assert cluster_upgrade.charge_ledger(ledger, "run-1", intervals) == 0  # a resumed run charges nothing twice
    assert cluster_upgrade.charge_ledger(ledger, "run-2", intervals[:1]) == 1
    records = slo.read_ledger(ledger)
    assert [r["run_id"] for r in records] == ["run-1#1", "run-1#2", "run-2#1"]
    assert all(r["tags"] == ["upgrade"] and r["source"] == "upgrade-cluster" for r in records)


def test_build_writes_the_report(tmp_path):
    journal = RunJournal(str(tmp_path), "run", "upgrade_cluster")
    journal.state["steps"] = [
        {"name": "preflight", "status": "done", "started": at(0), "finished": at(5), "details": {}},
        {"name": "control plane 1.33 -> 1.34", "status": "done", "started": at(5), "finished": at(65), "details": {}},
        {"name": "drain lke7-11", "status": "done", "started": at(70), "finished": at(100), "details": {}},
        {"name": "recycle lke7-11", "status": "done", "started": at(100), "finished": at(400),
         "details": {"results": [{"node_id": "7-1"}, {"node_id": "7-2"}]}},
        {"name": "recycle lke7-12", "status": "failed", "started": at(400), "finished": at(500),
         "details": {"results": [{"node_id": "7-3"}]}},
    ]
    journal.state["status"] = "failed"
    summary_in = probe({"web": [(T0 + 110, T0 + 112.5)]}, tmp_path)
    preflight = {"predicted_downtime_seconds": 0, "findings": [{"gate": "pdb", "level": "warn", "message": "a | b"}],
                 "plan": [{"pool_id": 101, "count": 2, "surge_to": 3, "batches": [["lke7-11"], ["lke7-12"]],
                           "already_at_target": []}]}
    budget = {"objective": 99.99, "window": "30d", "allowed_seconds": 259.2, "consumed_seconds": 2.5,
              "remaining_seconds": 256.7}

    paths, summary = cluster_upgrade.build(journal, "Cluster upgrade", summary_in, preflight, budget, extra={"x": 1})

    assert summary["status"] == "failed" and summary["wall_seconds"] == 500.0
    assert summary["nodes_recycled"] == 2  # only recycles that finished count
    assert summary["downtime_seconds"] == 2.5 and summary["failed_requests"] == 3 and summary["x"] == 1
    markdown = open(os.path.join(journal.dir, "report.md")).read()
    for heading in ("Summary", "Preflight findings", "Plan", "Per-node durations", "Failed requests", "Error budget"):
        assert heading in markdown, heading
    assert "a \\| b" in markdown  # a pipe in a finding does not break the table
    assert "lke7-11 / lke7-12" in markdown
    assert "`probe/%s`" % prober.FAILURES in markdown
    report = json.load(open(os.path.join(journal.dir, "report.json")))
    assert report["report"]["summary"]["downtime_seconds"] == 2.5
    assert [s["kind"] for s in report["report"]["steps"]][:2] == ["preflight", "control plane"]
    assert paths["png"] and os.path.getsize(paths["png"]) > 0 and "![timeline](timeline.png)" in markdown


def test_build_of_a_run_that_changed_nothing(tmp_path):
    journal = RunJournal(str(tmp_path), "run", "upgrade_cluster")
    paths, summary = cluster_upgrade.build(journal, "Cluster upgrade")
    assert summary["wall_seconds"] is None and summary["downtime_seconds"] == 0 and summary["nodes_recycled"] == 0
    markdown = open(os.path.join(journal.dir, "report.md")).read()
    assert "No node was changed." in markdown and "Failed requests" not in markdown
    assert paths["png"] is None


def test_pod_moves_and_quarantined_nodes_are_reported(tmp_path):
    from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal
    journal = RunJournal(str(tmp_path), "upgrade-cluster-x", "upgrade-cluster")
    journal.step("drain n1", "done", evicted_pods=["app/web-7fcfb8468d-jszrv", "app/api-77cf99d4d8-2s2jl"])
    journal.step("drain n2", "done", evicted_pods=["db/postgres-0", "app/api-77cf99d4d8-9sqxs"])
    journal.step("drain n3", "failed", error="x")
    journal.set_fact("quarantined", [{"node_name": "n3", "pods": ["app/stuck-1"], "reason": "deadline"}])
    assert cluster_upgrade.pod_moves(journal.state) == {"app/web": 1, "app/api": 2, "db/postgres-0": 1}
    paths, summary = cluster_upgrade.build(journal, "Cluster upgrade")
    assert summary["quarantined_nodes"] == ["n3"] and summary["max_moves_per_app"] == 2
    with open(paths["markdown"]) as handle:
        text = handle.read()
    assert text.index("Action needed") < text.index("Summary") and "app/stuck-1" in text


def test_per_pod_moves_and_single_replica_downtime_are_in_markdown_and_json(tmp_path):
    journal = RunJournal(str(tmp_path), "upgrade-cluster-y", "upgrade-cluster")
    journal.step("drain n1", "done", evicted_pods=["app/web-7fcfb8468d-jszrv", "app/api-77cf99d4d8-2s2jl"], moves=[
        {"pod": "app/web-7fcfb8468d-jszrv", "node": "n1", "owner": "app/ReplicaSet/web-7fcfb8468d",
         "evicted_at": T0 + 5, "replicas": 1, "ready_at": T0 + 11.5, "seconds": 6.5},
        {"pod": "app/api-77cf99d4d8-2s2jl", "node": "n1", "owner": "app/ReplicaSet/api-77cf99d4d8",
         "evicted_at": T0 + 5.1, "replicas": 3, "ready_at": T0 + 7, "seconds": 1.9}])
    paths, summary = cluster_upgrade.build(journal, "Cluster upgrade")
    assert summary["single_replica_downtime_seconds"] == {"app/web": 6.5}
    with open(paths["json"]) as handle:
        data = json.load(handle)["report"]
    assert data["pod_moves"] == {"app/web": 1, "app/api": 1}
    assert [(m["pod"], m["downtime_seconds"]) for m in data["moves"]] == [("app/web-7fcfb8468d-jszrv", 6.5),
                                                                          ("app/api-77cf99d4d8-2s2jl", None)]
    with open(paths["markdown"]) as handle:
        text = handle.read()
    assert "| app/web | 1 | 1 | 6.5 |" in text and "| app/web-7fcfb8468d-jszrv | 1 | n1 | 12:00:05 | 12:00:11 | 6.5 | 6.5 |" in text


@pytest.mark.parametrize("pool, adds", [
    ({"count": 3, "surge_to": 4}, "surge to 4"),
    ({"count": 3, "surge_to": 3}, "-"),
    ({"strategy": "blue_green", "count": 3, "surge_to": 3, "new_pool": 3, "green_pool_id": None}, "new pool of 3"),
    ({"strategy": "blue_green", "count": 3, "surge_to": 3, "new_pool": 0, "green_pool_id": 9}, "new pool 9 (there)"),
    ({"strategy": "blue_green", "count": 3, "surge_to": 3, "new_pool": 0, "green_pool_id": None}, "-"),
])
def test_the_plan_table_says_what_each_strategy_adds(pool, adds):
    assert cluster_upgrade._plan_adds(pool) == adds  # pylint: disable=protected-access


def test_a_resumed_run_says_how_often_it_was_carried_on_and_counts_its_surge_node_once(tmp_path):
    journal = RunJournal(str(tmp_path), "upgrade-cluster-z", "upgrade-cluster")
    journal.set_fact("resumed_at", ["2026-12-05T10:00:00Z", "2026-12-05T10:03:00Z"])
    preflight = {"plan": [{"pool_id": 101, "count": 3, "surge_to": 4, "surged": True, "batches": [["n1"]],
                           "already_at_target": ["n9"]}]}
    paths, summary = cluster_upgrade.build(journal, "Cluster upgrade", preflight=preflight)
    assert summary["resumed"] == 2
    with open(paths["markdown"]) as handle:
        text = handle.read()
    assert "| resumed | 2 |" in text and "| 101 | 3 | surge node already there | n1 | n9 |" in text
    assert cluster_upgrade.build(RunJournal(str(tmp_path), "new", "upgrade-cluster"), "x")[1]["resumed"] == 0
