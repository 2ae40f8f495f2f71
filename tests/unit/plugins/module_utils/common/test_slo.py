"""Error-budget maths: the numbers every disruptive runbook gates on."""

import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo

NOW = "2026-11-27T12:00:00Z"


def iv(start, end, tags=None):
    rec = {"start": start, "end": end}
    if tags:
        rec["tags"] = tags
    return rec


@pytest.mark.parametrize("objective, window, now, minutes", [
    (99.99, "365d", NOW, 52.56),
    (99.99, "30d", NOW, 4.32),
    (99.99, "28d", NOW, 4.032),
    (99.9, "30d", NOW, 43.2),
    (99.99, "calendar_year", "2026-06-01T00:00:00Z", 52.56),
    # 2028 is a leap year: 366 days.
    (99.99, "calendar_year", "2028-06-01T00:00:00Z", 52.704),
    (99.99, "calendar_month", "2026-02-10T00:00:00Z", 4.032),
    (99.99, "calendar_quarter", "2026-05-10T00:00:00Z", 13.104),
])
def test_allowed_downtime(objective, window, now, minutes):
    assert slo.allowed_downtime_seconds(objective, window, now=now) / 60 == pytest.approx(minutes)


def test_consumed_and_remaining():
    report = slo.budget(99.99, "30d", [iv("2026-11-20T10:00:00Z", "2026-11-20T10:02:00Z")], now=NOW)
    assert report["allowed_seconds"] == pytest.approx(259.2)
    assert report["consumed_seconds"] == 120
    assert report["remaining_seconds"] == pytest.approx(139.2)
    assert report["remaining_percent"] == pytest.approx(53.704, abs=1e-3)
    assert report["burn_rate"] == pytest.approx(120 / 259.2, abs=1e-4)


def test_overlapping_intervals_count_once():
    intervals = [
        iv("2026-11-20T10:00:00Z", "2026-11-20T10:02:00Z"),
        iv("2026-11-20T10:01:00Z", "2026-11-20T10:03:00Z"),  # overlaps the first by 60 s
        iv("2026-11-20T10:03:00Z", "2026-11-20T10:04:00Z"),  # touches the second
        iv("2026-11-20T10:00:30Z", "2026-11-20T10:00:40Z"),  # inside the first
    ]
    report = slo.budget(99.99, "30d", intervals, now=NOW)
    assert report["consumed_seconds"] == 240
    assert report["merged_intervals"] == [{"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:04:00Z"}]


def test_window_edges_clip_intervals():
    # Window is 2026-10-28T12:00Z .. NOW; an interval straddling the start counts only its inside part.
    intervals = [
        iv("2026-10-28T11:59:00Z", "2026-10-28T12:01:00Z"),  # 60 s inside
        iv("2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z"),  # wholly before
        iv("2026-11-27T11:59:30Z", "2026-11-27T12:10:00Z"),  # runs past now: 30 s so far
    ]
    report = slo.budget(99.99, "30d", intervals, now=NOW)
    assert report["consumed_seconds"] == 90
    assert report["intervals_counted"] == 2


def test_calendar_year_burn_rate_uses_elapsed_time():
    # Half of a non-leap year has passed at 2026-07-02T12:00Z; 26.28 min used = exactly on track.
    report = slo.budget(99.99, "calendar_year", [iv("2026-03-01T00:00:00Z", "2026-03-01T00:26:16.8Z")],
                        now="2026-07-02T12:00:00Z")
    assert report["burn_rate"] == pytest.approx(1.0, abs=1e-3)


def test_leap_day_inside_rolling_window():
    report = slo.budget(99.99, "30d", [iv("2028-02-29T00:00:00Z", "2028-02-29T00:01:00Z")], now="2028-03-10T00:00:00Z")
    assert report["window_start"] == "2028-02-09T00:00:00Z"
    assert report["consumed_seconds"] == 60


def test_drills_can_be_excluded():
    intervals = [iv("2026-11-20T10:00:00Z", "2026-11-20T10:05:00Z", ["drill"]),
                 iv("2026-11-21T10:00:00Z", "2026-11-21T10:01:00Z", ["incident"])]
    assert slo.budget(99.99, "30d", intervals, now=NOW)["consumed_seconds"] == 360
    report = slo.budget(99.99, "30d", intervals, now=NOW, exclude_tags=["drill"])
    assert report["consumed_seconds"] == 60
    assert report["intervals_excluded"] == 1


def test_naive_timestamps_are_utc():
    a = slo.budget(99.99, "30d", [iv("2026-11-20T10:00:00", "2026-11-20T10:01:00")], now=NOW)
    b = slo.budget(99.99, "30d", [iv("2026-11-20T11:00:00+01:00", "2026-11-20T11:01:00+01:00")], now=NOW)
    assert a["merged_intervals"] == b["merged_intervals"]


def test_overspent_budget_goes_negative_and_gate_refuses():
    report = slo.budget(99.99, "30d", [iv("2026-11-20T10:00:00Z", "2026-11-20T10:10:00Z")], now=NOW)
    assert report["remaining_seconds"] < 0
    ok, reason = slo.budget_allows(report, 1)
    assert not ok and "below the reserve" in reason


def test_gate_with_reserve():
    report = slo.budget(99.99, "30d", [], now=NOW)  # 259.2 s left
    assert slo.budget_allows(report, 200)[0]
    assert not slo.budget_allows(report, 200, min_remaining_percent=50)[0]


@pytest.mark.parametrize("objective", [0, 100, -1, 100.5, "abc", None, float("nan")])
def test_bad_objective(objective):
    with pytest.raises(slo.SLOError, match=r"objective .* (outside \(0, 100\)|not a number)"):
        slo.budget(objective, "30d", [], now=NOW)


@pytest.mark.parametrize("window", ["month", "0d", "99999d", "", 30, "calendar_week"])
def test_unknown_window(window):
    with pytest.raises(slo.SLOError, match=r"window .* (not valid)"):
        slo.budget(99.99, window, [], now=NOW)


def test_interval_that_ends_before_it_starts():
    with pytest.raises(slo.SLOError, match=r"interval 1 ends \(2026-11-20T09:00:00Z\) before it starts"):
        slo.budget(99.99, "30d", [iv("2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z")], now=NOW)


@pytest.mark.parametrize("record, message", [
    ({"start": "yesterday", "end": "2026-11-20T10:00:00Z"}, "not an ISO 8601 timestamp"),
    ({"end": "2026-11-20T10:00:00Z"}, "has no 'start'"),
    ({"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z", "tags": [1]}, "list of strings"),
    ("not a dict", "not an object"),
])
def test_bad_interval(record, message):
    with pytest.raises(slo.SLOError, match=message):
        slo.budget(99.99, "30d", [record], now=NOW)


def test_ledger_round_trip_and_idempotent_append(tmp_path):
    ledger = tmp_path / "sub" / "downtime.jsonl"
    assert slo.read_ledger(str(ledger)) == []
    assert slo.append_downtime(str(ledger), "2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z",
                               tags=["drill"], source="test", run_id="r1")
    assert not slo.append_downtime(str(ledger), "2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z", run_id="r1")
    records = slo.read_ledger(str(ledger))
    assert len(records) == 1 and records[0]["tags"] == ["drill"] and records[0]["run_id"] == "r1"


def test_corrupt_ledger_line_is_named(tmp_path):
    ledger = tmp_path / "downtime.jsonl"
    ledger.write_text("# comment\n\n" + json.dumps(iv("2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z")) + "\n{oops\n")
    with pytest.raises(slo.SLOError, match=r"ledger .*downtime.jsonl line 4 is not valid JSON"):
        slo.read_ledger(str(ledger))


def test_append_refuses_reversed_interval(tmp_path):
    with pytest.raises(slo.SLOError, match="before it starts"):
        slo.append_downtime(str(tmp_path / "l.jsonl"), "2026-11-20T10:01:00Z", "2026-11-20T10:00:00Z")
    assert not (tmp_path / "l.jsonl").exists()
