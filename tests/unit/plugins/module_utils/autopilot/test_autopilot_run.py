"""One autopilot decision run over its records: candidates, first seen, requests asked once,
approval on a later run, denial, check mode writing nothing."""

import datetime
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy, records, run

UTC = datetime.timezone.utc
# Friday 2026-12-04 22:30 UTC; the window below is every day 20:00-02:00 UTC.
NOW = datetime.datetime(2026, 12, 4, 22, 30, tzinfo=UTC)
POLICY = policy.validate({
    "windows": [{"start": "20:00", "end": "02:00"}],
    "min_release_age_days": 2,
    "components": {"lke_kubernetes": {"minor": "approve"}, "lke_node_patch": {"patch": "auto"},
                   "postgres": {"patch": "auto", "major": "approve"}},
})


@pytest.mark.parametrize("component, current, available, want", [
    ("lke_kubernetes", "1.33", ["1.33", "1.34", "1.35"], "1.34"),
    ("lke_kubernetes", "1.35", ["1.33", "1.34", "1.35"], None),
    ("lke_node_patch", "1.33.2", ["1.33.4", "1.33.9", "1.34.6"], "1.33.9"),
    ("lke_node_patch", "1.33.9", ["1.33.9", "1.34.6"], None),
    ("postgres", "15.18", ["15.18", "15.20", "17.6"], "15.20"),
    ("postgres", "15.20", ["15.20", "17.6", "16.10"], "17.6"),
    ("postgres", "17.6", [], None),
])
def test_candidate(component, current, available, want):
    assert run.candidate(component, current, available) == want


def observe(minor_available=("1.33", "1.34")):
    return [{"component": "lke_kubernetes", "current": "1.33", "available": list(minor_available)},
            {"component": "lke_node_patch", "current": "1.33.2", "available": ["1.33.2"]}]


def test_minor_waits_for_age_then_asks_once_then_applies_on_approval(tmp_path):
    rec = records.Records(str(tmp_path))
    first = run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW)
    assert [d["decision"] for d in first["decisions"]] == ["up to date", "wait: too new"]
    later = NOW + datetime.timedelta(days=3)
    second = run.run_decisions(POLICY, rec, "r2", "lab", observe(), later)
    assert second["decisions"][1]["decision"] == "needs approval"
    assert [r["id"] for r in second["requests_new"]] == ["ap-lab-lke_kubernetes-1.34"]
    third = run.run_decisions(POLICY, rec, "r3", "lab", observe(), later + datetime.timedelta(hours=1))
    assert third["decisions"][1]["decision"] == "needs approval" and third["requests_new"] == []
    fourth = run.run_decisions(POLICY, rec, "r4", "lab", observe(), later + datetime.timedelta(hours=2),
                               approve="ap-lab-lke_kubernetes-1.34")
    assert fourth["decisions"][0]["component"] == "lke_kubernetes"  # what a person approved goes first
    assert fourth["decisions"][0]["decision"] == "apply"
    assert rec.request("ap-lab-lke_kubernetes-1.34")["status"] == "approved"
    events = [e["event"] for e in rec.events()]
    assert events.count("request") == 1 and events.count("approved") == 1 and events.count("decision") == 8


def test_denied_is_not_asked_again(tmp_path):
    rec = records.Records(str(tmp_path))
    later = NOW + datetime.timedelta(days=3)
    run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW)
    run.run_decisions(POLICY, rec, "r2", "lab", observe(), later)
    got = run.run_decisions(POLICY, rec, "r3", "lab", observe(), later, deny="ap-lab-lke_kubernetes-1.34")
    assert got["decisions"][1]["decision"] == "skip: denied"
    got = run.run_decisions(POLICY, rec, "r4", "lab", observe(), later + datetime.timedelta(days=1))
    assert got["decisions"][1]["decision"] == "skip: denied" and got["requests_new"] == []


def test_expired_request_is_recorded_and_not_asked_again(tmp_path):
    rec = records.Records(str(tmp_path))
    run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW)
    run.run_decisions(POLICY, rec, "r2", "lab", observe(), NOW + datetime.timedelta(days=3))
    got = run.run_decisions(POLICY, rec, "r3", "lab", observe(), NOW + datetime.timedelta(days=7))
    assert got["decisions"][1]["decision"] == "skip: expired"
    assert rec.request("ap-lab-lke_kubernetes-1.34")["status"] == "expired"
    with pytest.raises(records.ApprovalError):
        run.run_decisions(POLICY, rec, "r4", "lab", observe(), NOW + datetime.timedelta(days=7),
                          approve="ap-lab-lke_kubernetes-1.34")


def test_approval_of_a_withdrawn_version_changes_nothing(tmp_path):
    rec = records.Records(str(tmp_path))
    run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW)
    run.run_decisions(POLICY, rec, "r2", "lab", observe(), NOW + datetime.timedelta(days=3))
    before = open(rec.ledger).read()
    with pytest.raises(records.ApprovalError) as err:
        run.run_decisions(POLICY, rec, "r3", "lab", observe(("1.33",)), NOW + datetime.timedelta(days=3),
                          approve="ap-lab-lke_kubernetes-1.34")
    assert "no longer offered" in str(err.value)
    assert open(rec.ledger).read() == before
    assert rec.request("ap-lab-lke_kubernetes-1.34")["status"] == "pending"


def test_check_mode_writes_nothing(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    got = run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW + datetime.timedelta(days=3), check=True)
    assert got["changed"] is False and got["decisions"][1]["decision"] == "wait: too new"
    assert not os.path.exists(str(tmp_path / "autopilot"))


def test_last_started_change_spaces_the_next(tmp_path):
    rec = records.Records(str(tmp_path))
    obs = [{"component": "postgres", "current": "15.18", "available": ["15.20"]}]
    run.run_decisions(POLICY, rec, "r1", "lab", obs, NOW - datetime.timedelta(days=3))
    rec.append("r0", "started", NOW - datetime.timedelta(hours=2), cluster="lab", component="lke_node_patch")
    got = run.run_decisions(POLICY, rec, "r2", "lab", obs, NOW)
    assert got["decisions"][0]["decision"] == "wait: too soon after the last change"
    got = run.run_decisions(POLICY, rec, "r3", "lab", obs, NOW, budget_remaining_percent=10.0)
    assert got["decisions"][0]["decision"] == "wait: budget"
    got = run.run_decisions(POLICY, rec, "r4", "other", obs, NOW, budget_remaining_percent=10.0)
    assert got["decisions"][0]["decision"] == "wait: too new"  # another cluster's own first-seen clock


def test_started_but_unfinished_change_is_resumed_first(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    runbooks = tmp_path / "runs"
    obs = [{"component": "lke_node_patch", "current": "1.33.2", "available": ["1.33.4", "1.33.5"]},
           {"component": "postgres", "current": "15.18", "available": ["15.20"]}]
    run.run_decisions(POLICY, rec, "a0", "lab", obs, NOW - datetime.timedelta(days=3), check=False)
    rec.append("a1", "started", NOW - datetime.timedelta(days=2), cluster="lab", component="lke_node_patch",
               candidate="1.33.4", runbook_run_id="upgrade-cluster-a1")
    # killed before the runbook wrote its journal: resumed, outside the window too, with the version it started
    got = run.run_decisions(POLICY, rec, "a2", "lab", obs, NOW - datetime.timedelta(hours=12), runbooks_dir=str(runbooks))
    assert (got["decisions"][0]["decision"], got["decisions"][0]["candidate"]) == ("resume", "1.33.4")
    assert got["decisions"][0]["runbook_run_id"] == "upgrade-cluster-a1"
    assert got["decisions"][1]["decision"] == "wait: outside window"
    (runbooks / "upgrade-cluster-a1").mkdir(parents=True)
    (runbooks / "upgrade-cluster-a1" / "state.json").write_text('{"status": "failed"}')
    got = run.run_decisions(POLICY, rec, "a3", "lab", obs, NOW, runbooks_dir=str(runbooks))
    assert got["decisions"][0]["decision"] == "resume"
    assert got["decisions"][1]["decision"] == "wait: one change per run"
    (runbooks / "upgrade-cluster-a1" / "state.json").write_text('{"status": "done"}')
    rec.append("a3", "applied", NOW, cluster="lab", component="lke_node_patch", runbook_run_id="upgrade-cluster-a1")
    got = run.run_decisions(POLICY, rec, "a4", "lab", obs, NOW + datetime.timedelta(days=1), runbooks_dir=str(runbooks))
    assert got["decisions"][0]["decision"] == "apply" and got["decisions"][0]["candidate"] == "1.33.5"


def test_answers_for_several_clusters_are_split_and_contradictions_refused(tmp_path):
    rec = records.Records(str(tmp_path))
    later = NOW + datetime.timedelta(days=3)
    for cluster in ("staging", "prod"):
        run.run_decisions(POLICY, rec, "r1", cluster, observe(), NOW)
        run.run_decisions(POLICY, rec, "r2", cluster, observe(), later)
    ids = ["ap-staging-lke_kubernetes-1.34", "ap-prod-lke_kubernetes-1.34"]
    got = run.run_decisions(POLICY, rec, "r3", "staging", observe(), later, approve=ids)
    assert (got["decisions"][0]["component"], got["decisions"][0]["decision"]) == ("lke_kubernetes", "apply")
    assert rec.request("ap-prod-lke_kubernetes-1.34")["status"] == "pending"
    with pytest.raises(records.ApprovalError) as err:
        run.run_decisions(POLICY, rec, "r4", "prod", observe(), later, approve=ids[1:], deny=ids[1:])
    assert "both approved and denied" in str(err.value)
    with pytest.raises(records.ApprovalError):
        run.run_decisions(POLICY, rec, "r4", "prod", observe(), later, approve=["ap-typo"])


def test_an_approved_change_that_is_resumed_ends_applied(tmp_path):
    """Approved, started, killed midway; the next run resumes it and its request ends applied, not approved."""
    rec = records.Records(str(tmp_path / "autopilot"))
    runbooks = tmp_path / "runs"
    rid = "ap-lab-lke_kubernetes-1.34"
    later = NOW + datetime.timedelta(days=3)
    run.run_decisions(POLICY, rec, "r1", "lab", observe(), NOW, runbooks_dir=str(runbooks))
    run.run_decisions(POLICY, rec, "r2", "lab", observe(), later, runbooks_dir=str(runbooks))
    approved = run.run_decisions(POLICY, rec, "r3", "lab", observe(), later, approve=rid, runbooks_dir=str(runbooks))
    acting = approved["decisions"][0]
    assert (acting["decision"], acting["request_id"]) == ("apply", rid)
    records.record_event(rec, "r3", "started", later, acting, runbook_run_id="upgrade-cluster-r3")
    # killed: no applied line, the runbook's journal not done
    resumed = run.run_decisions(POLICY, rec, "r4", "lab", observe(), later + datetime.timedelta(hours=1),
                                runbooks_dir=str(runbooks))
    acting = resumed["decisions"][0]
    assert (acting["decision"], acting["runbook_run_id"], acting["request_id"]) == ("resume", "upgrade-cluster-r3", rid)
    records.record_event(rec, "r4", "failed", later, acting, runbook_run_id="upgrade-cluster-r3", error="exit code 2")
    assert rec.request(rid)["status"] == "approved"  # failed again: still approved, carried on next time
    records.record_event(rec, "r4", "applied", later, acting, runbook_run_id="upgrade-cluster-r3")
    assert rec.request(rid)["status"] == "applied"
    assert [e["request_id"] for e in rec.events() if e["event"] in ("started", "failed", "applied")] == [rid] * 3


def test_a_resumed_change_nobody_approved_names_no_request(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    rec.append("a1", "started", NOW, cluster="lab", component="lke_node_patch", candidate="1.33.4",
               runbook_run_id="upgrade-cluster-a1")
    obs = [{"component": "lke_node_patch", "current": "1.33.2", "available": ["1.33.4"]}]
    got = run.run_decisions(POLICY, rec, "a2", "lab", obs, NOW, runbooks_dir=str(tmp_path / "runs"))
    assert (got["decisions"][0]["decision"], got["decisions"][0]["request_id"]) == ("resume", None)


CNPG_POLICY = policy.validate({
    "windows": [{"start": "20:00", "end": "02:00"}], "min_release_age_days": 0,
    "components": {"postgres": {"backend": "cloudnative_pg", "patch": "auto", "major": "approve",
                                "images": ["lab/pg:15.20", "lab/pg:17.6"]}},
})
CNPG_OBS = [{"component": "postgres", "current": "15.18", "available": ["15.20", "17.6"],
             "images": {"15.20": "lab/pg:15.20", "17.6": "lab/pg:17.6"}}]


def test_a_cloudnative_pg_change_carries_its_image_into_the_decision_ledger_and_a_resumed_run(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    runbooks = tmp_path / "runs"
    got = run.run_decisions(CNPG_POLICY, rec, "c1", "lab", CNPG_OBS, NOW, runbooks_dir=str(runbooks))
    acting = got["decisions"][0]
    assert (acting["decision"], acting["candidate"], acting["image"], acting["backend"]) == (
        "apply", "15.20", "lab/pg:15.20", "cloudnative_pg")
    started = records.record_event(rec, "c1", "started", NOW, acting, runbook_run_id="upgrade-postgres-c1")
    assert started["image"] == "lab/pg:15.20"
    # killed; the policy has since dropped that image: the resumed run is still given the one it started with
    later = [dict(CNPG_OBS[0], available=["17.6"], images={"17.6": "lab/pg:17.6"})]
    got = run.run_decisions(CNPG_POLICY, rec, "c2", "lab", later, NOW, runbooks_dir=str(runbooks))
    acting = got["decisions"][0]
    assert (acting["decision"], acting["candidate"], acting["image"], acting["runbook_run_id"], acting["kind"]) == (
        "resume", "15.20", "lab/pg:15.20", "upgrade-postgres-c1", "patch")


def test_a_runbook_without_a_journal_is_judged_by_its_report(tmp_path):
    """The CloudNativePG minor flow writes report.json, no state.json: done there is done."""
    rec = records.Records(str(tmp_path / "autopilot"))
    runbooks = tmp_path / "runs"
    rec.append("c1", "started", NOW, cluster="lab", component="postgres", candidate="15.20",
               runbook_run_id="upgrade-postgres-c1", image="lab/pg:15.20")
    (runbooks / "upgrade-postgres-c1").mkdir(parents=True)
    (runbooks / "upgrade-postgres-c1" / "report.json").write_text('{"status": "failed"}')
    assert list(run.interrupted(rec, "lab", str(runbooks))) == ["postgres"]
    (runbooks / "upgrade-postgres-c1" / "report.json").write_text('{"status": "done"}')
    assert run.interrupted(rec, "lab", str(runbooks)) == {}


def test_a_cloudnative_pg_major_request_names_the_image_to_approve(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    obs = [dict(CNPG_OBS[0], current="15.20")]
    got = run.run_decisions(CNPG_POLICY, rec, "c1", "lab", obs, NOW)
    assert got["decisions"][0]["decision"] == "needs approval"
    assert [(r["candidate"], r["image"]) for r in got["requests_new"]] == [("17.6", "lab/pg:17.6")]
    assert rec.request("ap-lab-postgres-17.6")["image"] == "lab/pg:17.6"
