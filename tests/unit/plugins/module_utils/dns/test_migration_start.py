"""dns/ttl_change.py: when the answers cached before a lowering have left every cache (per record and
overall: the moment a DNS migration may start), and the report that keeps it."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change
from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation

NOW = 1795000000.0  # 2026-11-18T07:46:40Z


def rows(*ttls):
    return [{"name": "r%d.lab.example." % index, "type": "A", "old_ttl": ttl, "new_ttl": 60, "changed": ttl != 60}
            for index, ttl in enumerate(ttls)]


def test_a_plan_counts_from_now_plus_publish_lag_plus_the_old_ttl():
    plan = rows(86400, 3600)
    start = ttl_change.old_answers_gone(plan, publish_lag=900, now=NOW)
    day = ttl_change._epoch(plan[0]["old_answers_gone_at"])
    assert day == NOW + 900 + 86400 + ttl_change.CACHE_CLOCK_SLACK
    assert ttl_change._epoch(plan[1]["old_answers_gone_at"]) == NOW + 900 + 3600 + ttl_change.CACHE_CLOCK_SLACK
    assert [r["old_answers_gone_in"] for r in plan] == [87301.0, 4501.0]
    assert plan[0]["old_answers_gone"] == (
        "r0.lab.example. A: old answers gone from every cache at %s, in 1 d 0 h 15 min 1 s (now + publish lag 900 s "
        "+ old TTL 86400 s + 1 s for resolvers' whole-second clocks)" % plan[0]["old_answers_gone_at"])
    # overall: the record with the longest old TTL decides
    assert (start["name"], start["at"], start["in"]) == ("r0.lab.example.", plan[0]["old_answers_gone_at"], 87301.0)
    assert start["text"] == ("the migration may start at %s, in 1 d 0 h 15 min 1 s if the TTLs are lowered now: then the "
                             "old answers of every record have left every cache (the last is r0.lab.example. A)"
                             % plan[0]["old_answers_gone_at"])


def test_the_same_moment_as_the_wait_after_a_real_change():
    """The plan and dns_propagation_wait agree: a change accepted at T with no nameserver later than it."""
    changed = ttl_change._stamp(NOW - 100)
    done = rows(3600)
    ttl_change.old_answers_gone(done, publish_lag=60, changed_at=changed, now=NOW)
    moment, dummy = propagation.expiry_moment([], 3600, 60, changed, now=NOW - 100)
    assert ttl_change._epoch(done[0]["old_answers_gone_at"]) == pytest.approx(moment, abs=0.01)
    assert done[0]["old_answers_gone_from"] == changed and "lowered at %s + publish lag 60 s" % changed in \
        done[0]["old_answers_gone_why"]


def test_a_record_lowered_earlier_counts_from_then_with_its_original_ttl():
    earlier = rows(60, 60)
    earlier[0].update(original_ttl=3600, lowered_at=ttl_change._stamp(NOW - 7200))  # lowered 2 h ago: long gone
    earlier[1].update(original_ttl=86400, lowered_at=ttl_change._stamp(NOW - 3600))  # lowered 1 h ago: 23 h to go
    start = ttl_change.old_answers_gone(earlier, now=NOW)
    assert earlier[0]["old_answers_gone_in"] == 0 and "already" in earlier[0]["old_answers_gone"]
    assert earlier[1]["old_answers_gone_in"] == 82801.0
    assert start["name"] == "r1.lab.example." and "in 23 h 0 min 1 s:" in start["text"]
    assert "lowered now" not in start["text"]


@pytest.mark.parametrize("seconds,text", [(0, "0 s"), (59.6, "1 min 0 s"), (61, "1 min 1 s"), (3600, "1 h 0 min 0 s"),
                                          (90061, "1 d 1 h 1 min 1 s"), (-5, "0 s")])
def test_duration(seconds, text):
    assert ttl_change.duration(seconds) == text


def test_no_rows_no_moment():
    assert ttl_change.old_answers_gone([], now=NOW) is None and ttl_change.migration_start([]) is None


def test_the_report_says_when_the_migration_may_start(tmp_path):
    state = ttl_change.TTLState(str(tmp_path), "dns-run", "lab.example.", "powerdns")
    lowered = rows(86400, 3600)
    for row in lowered:
        state.remember(ttl_change.RRset(row["name"], row["type"], row["old_ttl"], ["127.0.0.10"]), 60)
    ttl_change.old_answers_gone(lowered, publish_lag=900, changed_at=ttl_change._stamp(NOW), now=NOW)
    for row in lowered:
        state.original(ttl_change.key_of(row["name"], row["type"])).update(
            old_answers_gone_at=row["old_answers_gone_at"], old_answers_gone_why=row["old_answers_gone_why"])
    state.save("dns_ttl_lower")
    paths = state.write_report()
    markdown = open(paths["markdown"]).read()
    assert "| old answers gone at |" in markdown
    assert "## When the migration may start" in markdown
    assert ("- r0.lab.example. A: old answers gone from every cache at %s (lowered at %s + publish lag 900 s + old TTL "
            "86400 s + 1 s for resolvers' whole-second clocks)" % (lowered[0]["old_answers_gone_at"],
                                                                   ttl_change._stamp(NOW))) in markdown
    assert "The migration may start at **%s**" % lowered[0]["old_answers_gone_at"] in markdown
    with open(os.path.join(str(tmp_path), "dns-run", "report.json")) as handle:
        records = json.load(handle)["report"]["records"]
    assert records["r0.lab.example./A"]["old_answers_gone_at"] == lowered[0]["old_answers_gone_at"]
