"""The autopilot's records: first seen kept across runs, the ledger's last change, approval checks."""

import datetime

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide, records

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_first_seen_is_kept(tmp_path):
    rec = records.Records(str(tmp_path / "autopilot"))
    seen, found = rec.first_seen(rec.seen(), "lab", "postgres", ["15.20"], T0)
    rec.save_seen(seen)
    later = T0 + datetime.timedelta(days=2)
    seen, found = rec.first_seen(rec.seen(), "lab", "postgres", ["15.20", "15.21"], later)
    assert found == {"15.20": "2026-12-01T10:00:00Z", "15.21": "2026-12-03T10:00:00Z"}
    # another cluster sees the same version for the first time on its own
    assert rec.first_seen(seen, "prod", "postgres", ["15.20"], later)[1]["15.20"] == "2026-12-03T10:00:00Z"


def test_ledger_last_change_per_cluster(tmp_path):
    rec = records.Records(str(tmp_path))
    rec.append("r1", "decision", T0, cluster="lab", component="postgres", decision="apply")
    rec.append("r1", "started", T0, cluster="lab", component="postgres", candidate="15.20")
    rec.append("r2", "started", T0 + datetime.timedelta(hours=1), cluster="prod", component="postgres")
    with open(rec.ledger, "a") as handle:
        handle.write('{"ts": "2026-12-0')  # a line cut by a kill
    assert rec.last_change("lab") == "2026-12-01T10:00:00Z"
    assert rec.last_change("prod") == "2026-12-01T11:00:00Z"
    assert rec.last_change("other") is None
    assert len(rec.events()) == 3


def _decision():
    return {"request_id": "ap-lab-lke_kubernetes-1.34", "cluster": "lab", "component": "lke_kubernetes",
            "current": "1.33", "candidate": "1.34", "kind": "minor"}


def test_request_round_trip_and_approval(tmp_path):
    rec = records.Records(str(tmp_path))
    req = rec.new_request(_decision(), T0, 72, evidence={"plan": "reports/x/report.md"})
    rec.save_request(req)
    assert rec.request(req["id"])["expires"] == "2026-12-04T10:00:00Z"
    items = [{"cluster": "lab", "component": "lke_kubernetes", "candidate": "1.34"}]
    assert records.check_approval(req["id"], rec.requests(), items, T0)["id"] == req["id"]
    assert records.check_approval(None, rec.requests(), items, T0) is None


@pytest.mark.parametrize("approve, status, now_h, offered, words", [
    ("ap-lab-nope", "pending", 1, "1.34", "matches no approval request; pending: ap-lab-lke_kubernetes-1.34"),
    ("ap-lab-lke_kubernetes-1.34", "denied", 1, "1.34", "is denied, not pending"),
    ("ap-lab-lke_kubernetes-1.34", "pending", 73, "1.34", "expired"),
    ("ap-lab-lke_kubernetes-1.34", "pending", 1, "1.35", "no longer offered"),
    ("ap-lab-lke_kubernetes-1.34", "pending", 1, None, "no longer offered"),
])
def test_bad_approvals_are_refused(tmp_path, approve, status, now_h, offered, words):
    rec = records.Records(str(tmp_path))
    req = rec.new_request(_decision(), T0, 72)
    req["status"] = status
    rec.save_request(req)
    items = [{"cluster": "lab", "component": "lke_kubernetes", "candidate": offered}]
    with pytest.raises(records.ApprovalError) as err:
        records.check_approval(approve, rec.requests(), items, T0 + datetime.timedelta(hours=now_h))
    assert words in str(err.value) and "Nothing was attempted" in str(err.value)


def test_request_id_matches_decide():
    assert _decision()["request_id"] == decide.request_id("lab", "lke_kubernetes", "1.34")


def test_evidence_is_stored_without_terminal_escape_codes(tmp_path):
    rec = records.Records(str(tmp_path))
    decision = {"cluster": "lab", "component": "lke_kubernetes", "candidate": "1.35", "kind": "minor",
                "request_id": "ap-lab-lke_kubernetes-1.35"}
    rec.save_request(rec.new_request(dict(decision, current="1.34"), datetime.datetime(2026, 12, 4, tzinfo=records.UTC), 72))
    tail = ["\x1b[0;32mok: [lab-lke]\x1b[0m", "\x1b[1;35m[WARNING]: x\x1b[0m", "\x1b]0;title\x07PLAY RECAP", "plain"]
    line = records.record_event(rec, "r1", "evidence", datetime.datetime(2026, 12, 4, tzinfo=records.UTC), decision,
                                evidence={"plan_rc": 0, "plan_output_tail": tail})
    want = ["ok: [lab-lke]", "[WARNING]: x", "PLAY RECAP", "plain"]
    assert rec.request("ap-lab-lke_kubernetes-1.35")["evidence"]["plan_output_tail"] == want
    assert line["evidence"] == {"plan_rc": 0, "plan_output_tail": want}
    assert "\x1b" not in open(rec.ledger).read()
