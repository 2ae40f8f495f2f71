"""report/pod_moves.py: per pod, how often it moved and the downtime of each move, from the run journal."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.report import pod_moves
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal

T0 = 1764244800.0  # 2025-11-27T12:00:00Z


def move(pod, node, replicas, evicted, ready):
    return {"pod": pod, "node": node, "owner": "x", "evicted_at": T0 + evicted, "replicas": replicas,
            "ready_at": None if ready is None else T0 + ready, "seconds": None if ready is None else ready - evicted}


@pytest.fixture
def journal(tmp_path):
    journal = RunJournal(str(tmp_path), "upgrade-cluster-x", "upgrade-cluster")
    journal.step("drain n1", "done", evicted_pods=["app/web-7fcfb8468d-jszrv", "app/api-77cf99d4d8-2s2jl"],
                 moves=[move("app/web-7fcfb8468d-jszrv", "n1", 1, 10.0, 14.5),
                        move("app/api-77cf99d4d8-2s2jl", "n1", 3, 10.2, 12.0)])
    journal.step("drain n2", "failed", error="deadline")  # a failed drain's moves are not counted
    journal.step("drain n4", "done", evicted_pods=["app/web-7fcfb8468d-zzzzz"],
                 moves=[move("app/web-7fcfb8468d-zzzzz", "n4", 1, 50.0, None)])
    journal.step("drain old", "done", evicted_pods=["db/postgres-0"])  # journal from before moves were recorded
    return journal


def test_move_rows_number_each_apps_moves_and_claim_downtime_for_single_replicas_only(journal):
    rows = pod_moves.move_rows(journal.state)
    assert [(r["app"], r["move"], r["node"]) for r in rows] == [
        ("app/web", 1, "n1"), ("app/api", 1, "n1"), ("app/web", 2, "n4"), ("db/postgres-0", 1, None)]
    assert rows[0]["downtime_seconds"] == 4.5 and rows[0]["ready_at"] == T0 + 14.5
    assert rows[1]["seconds"] == pytest.approx(1.8) and rows[1]["downtime_seconds"] is None  # 3 replicas
    assert rows[2]["downtime_seconds"] is None and rows[3]["replicas"] is None


def test_app_rows_sum_single_replica_downtime_and_flag_a_replacement_that_never_came(journal):
    apps = dict((a["app"], a) for a in pod_moves.app_rows(pod_moves.move_rows(journal.state)))
    assert apps["app/web"]["moves"] == 2 and apps["app/web"]["downtime_seconds"] == 4.5
    assert apps["app/web"]["unfinished"] is True
    assert apps["app/api"]["moves"] == 1 and apps["app/api"]["downtime_seconds"] is None
    assert not apps["app/api"]["unfinished"]


def test_markdown_has_a_row_per_app_and_per_move(journal):
    text = pod_moves.moves_markdown(pod_moves.move_rows(journal.state))
    assert "| app/web | 2 | 1 | 4.5 + not Ready again |" in text
    assert "| app/api | 1 | 3 | - |" in text
    assert "| app/web-7fcfb8468d-jszrv | 1 | n1 | 12:00:10 | 12:00:14 | 4.5 | 4.5 |" in text
    assert "- (3 replicas)" in text
    assert pod_moves.moves_markdown([]) == "No pod was evicted."


@pytest.mark.parametrize("key, app", [("app/web-7fcfb8468d-jszrv", "app/web"), ("db/postgres-0", "db/postgres-0"),
                                      ("app/api-77cf99d4d8-2s2jl", "app/api")])
def test_app_of(key, app):
    assert pod_moves.app_of(key) == app


def test_each_soak_is_a_row_with_its_findings():
    from ansible_collections.fournines.runbooks.plugins.module_utils.report import cluster_upgrade
    state = {"steps": [
        {"name": "soak pool 1 -> 2 batch 1/2", "status": "done", "details": {
            "result": "passed", "seconds": 5.0, "ended_early": True, "requests": 10, "failed_requests": 0,
            "restarts": {}, "not_ready": [], "reasons": []}},
        {"name": "soak pool 1 -> 2 batch 2/2", "status": "failed", "details": {
            "result": "regressed", "seconds": 1.0, "requests": 4, "failed_requests": 3,
            "restarts": {"app/web-1": 1}, "not_ready": ["app/web-2"], "reasons": ["edge error rate 75.0%"]}},
        {"name": "soak pool 1 -> 2 final", "status": "running", "details": {}},
    ]}
    rows = cluster_upgrade.soak_rows(state)
    assert [(r["soak"], r["status"], r["restarts"], r["not_ready"]) for r in rows] == [
        ("pool 1 -> 2 batch 1/2", "passed", 0, 0), ("pool 1 -> 2 batch 2/2", "regressed", 1, 1)]
    assert rows[1]["reasons"] == ["edge error rate 75.0%"]
