"""Every schedule's rrule is one AWX accepts, parses with python-dateutil, and its next three runs
fall where the documentation (the schedule's `expect` and the role README) says."""

import datetime
import os
import re

import pytest
from dateutil import rrule as du_rrule
from dateutil import tz

import awx_model as m

SCHEDULES = m.awx_config()["awx_config_schedules"]
IDS = [s["name"] for s in SCHEDULES]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
README = os.path.join(m.ROLE_DIR, "awx_config", "README.md")


def awx_rrule_errors(value):
    """The checks AWX's API applies to a schedule's rrule before it parses it (re-stated from
    AWX's documented rules: aware single DTSTART, INTERVAL in every rule, no SECONDLY, no BYDAY
    with a numeric prefix, not COUNT and UNTIL together, COUNT <= 999, no EXDATE/RDATE)."""
    errors = []
    dtstarts = re.findall(r"DTSTART(?:;TZID=[^:]+)?:\d{8}T\d{6}Z?", value)
    if len(dtstarts) != 1:
        errors.append("exactly one DTSTART required")
    elif ";TZID=" not in dtstarts[0] and not dtstarts[0].endswith("Z"):
        errors.append("naive DTSTART")
    rules = re.findall(r"(?:RRULE|EXRULE):(\S+)", value)
    if not any(r for r in re.findall(r"RRULE:(\S+)", value)):
        errors.append("no RRULE")
    for rule in rules:
        if "INTERVAL=" not in rule:
            errors.append("INTERVAL required: " + rule)
        if "FREQ=SECONDLY" in rule:
            errors.append("SECONDLY not supported")
        if re.search(r"BYDAY=[^;]*[+-]?\d", rule):
            errors.append("BYDAY with numeric prefix not supported: " + rule)
        if "COUNT=" in rule and "UNTIL=" in rule:
            errors.append("COUNT and UNTIL together")
        count = re.search(r"COUNT=(\d+)", rule)
        if count and int(count.group(1)) > 999:
            errors.append("COUNT > 999")
    for word in ("EXDATE", "RDATE"):
        if word + ":" in value.upper():
            errors.append(word + " not allowed")
    return errors


def parse(value):
    """The rruleset AWX would compute: its one-line form with the rules on their own lines."""
    return du_rrule.rrulestr(re.sub(r"\s+(RRULE|EXRULE):", r"\n\1:", value), forceset=True)


def next_runs(value, after, count=3):
    rules = parse(value)
    runs, cursor = [], after
    for dummy in range(count):
        cursor = rules.after(cursor)
        assert cursor is not None, "no run after %s" % after
        runs.append(cursor)
    return runs


def _hhmm(value):
    hours, minutes = value.split(":")
    return datetime.time(int(hours), int(minutes))


def check_expectation(expect, runs):
    zone = tz.gettz(expect["timezone"])
    assert zone is not None, "unknown timezone %s" % expect["timezone"]
    local = [run.astimezone(zone) for run in runs]
    earliest, latest = (_hhmm(t) for t in expect["time"])
    for run in local:
        assert WEEKDAYS[run.weekday()] in expect["weekdays"], "%s is a %s" % (run, WEEKDAYS[run.weekday()])
        assert earliest <= run.time().replace(second=0) <= latest, "%s outside %s" % (run, expect["time"])
        if "month_days" in expect:
            first, last = expect["month_days"]
            assert first <= run.day <= last, "%s not between day %d and %d" % (run, first, last)
    for before, after in zip(local, local[1:]):
        gap = after.date() - before.date()
        if expect["every"] == "day":
            assert gap == datetime.timedelta(days=1), (before, after)
        elif expect["every"] == "week":
            assert gap == datetime.timedelta(days=7), (before, after)
        elif expect["every"] == "month":
            months = (after.year - before.year) * 12 + after.month - before.month
            assert months == 1, (before, after)
        else:
            raise AssertionError("unknown spacing %r" % expect["every"])


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_rrule_is_one_awx_accepts(schedule):
    assert not awx_rrule_errors(schedule["rrule"]), awx_rrule_errors(schedule["rrule"])


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_rrule_timezone_matches_the_documented_one(schedule):
    match = re.search(r"DTSTART;TZID=([^:]+):", schedule["rrule"])
    zone = match.group(1) if match else "UTC"
    assert zone == schedule["expect"]["timezone"]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
@pytest.mark.parametrize("after", [
    None,  # now: the runs AWX will really start next
    datetime.datetime(2027, 3, 25, 12, 0, tzinfo=tz.UTC),  # across the spring DST change
    datetime.datetime(2027, 10, 29, 12, 0, tzinfo=tz.UTC),  # across the autumn DST change
    datetime.datetime(2027, 12, 28, 12, 0, tzinfo=tz.UTC),  # across a year end
], ids=["now", "spring-dst", "autumn-dst", "year-end"])
def test_next_three_runs_fall_where_documented(schedule, after):
    after = after or datetime.datetime.now(tz.UTC)
    runs = next_runs(schedule["rrule"], after)
    assert all(run > after for run in runs)
    check_expectation(schedule["expect"], runs)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_schedule_runs_a_declared_template(schedule):
    config = m.awx_config()
    names = {jt["name"] for jt in config["awx_config_job_templates"]}
    names |= {wf["name"] for wf in config["awx_config_workflows"]}
    assert schedule["unified_job_template"] in names


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if "window_seconds" in s["expect"]],
                         ids=[s["name"] for s in SCHEDULES if "window_seconds" in s["expect"]])
def test_windowed_job_cannot_overrun_its_window(schedule):
    jt = m.job_template(schedule["unified_job_template"])
    assert 0 < jt["timeout"] <= schedule["expect"]["window_seconds"], (
        "%s may run %ss, past its %ss window" % (jt["name"], jt["timeout"], schedule["expect"]["window_seconds"]))


def test_readme_documents_every_schedule():
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    for schedule in SCHEDULES:
        assert schedule["description"] in text, "README lacks the schedule %r: %s" % (
            schedule["name"], schedule["description"])
        assert schedule["rrule"] in text, "README shows another rrule for %r" % schedule["name"]


@pytest.mark.parametrize("bad, why", [
    ("DTSTART:20270104T070000 RRULE:FREQ=WEEKLY;INTERVAL=1", "naive DTSTART"),
    ("DTSTART:20270104T070000Z RRULE:FREQ=WEEKLY", "INTERVAL required"),
    ("DTSTART:20270104T070000Z RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=1WE", "numeric prefix"),
    ("DTSTART:20270104T070000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=5;UNTIL=20280101T000000Z", "COUNT and UNTIL"),
    ("DTSTART:20270104T070000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=1000", "COUNT > 999"),
])
def test_validator_refuses_what_awx_refuses(bad, why):
    assert any(why in error for error in awx_rrule_errors(bad))


def test_expectation_check_catches_a_wrong_rrule():
    """The documented promise really constrains the rrule: a drill on the first Saturday fails it."""
    drill = next(s for s in SCHEDULES if s["unified_job_template"] == "fournines: node-failure drill")
    wrong = drill["rrule"].replace("BYDAY=WE", "BYDAY=SA")
    with pytest.raises(AssertionError):
        check_expectation(drill["expect"], next_runs(wrong, datetime.datetime(2027, 1, 1, tzinfo=tz.UTC)))
