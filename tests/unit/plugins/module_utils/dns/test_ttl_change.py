"""Unit tests for dns/ttl_change.py: input checks, the saved originals, and lower/restore over a provider.

The provider here is an in-memory zone that implements the DNSProvider interface the way the real
providers do (all or nothing); each real provider has its own tests under providers/ and in
tests/integration/dns against the lab's nameservers.
"""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change


class MemoryZone(ttl_change.DNSProvider):
    """A zone held in a dict; ``fail_on`` makes set_ttls refuse (and change nothing) for that key."""

    name = "memory"

    def __init__(self, zone, records, fail_on=None, snap=None):
        self.zone, self.records, self.fail_on, self.snap = zone, dict(records), fail_on, snap
        self.writes = []

    def check_zone(self, zone):
        if zone != self.zone:
            raise ttl_change.DNSError("zone %s is not hosted here" % zone)

    def get(self, zone, keys):
        missing = [k for k in keys if k not in self.records]
        if missing:
            raise ttl_change.missing_records_error(zone, missing, self.name)
        return dict((k, ttl_change.RRset(k[0], k[1], self.records[k][0], self.records[k][1])) for k in keys)

    def set_ttls(self, zone, changes):
        if self.fail_on in [(r.name, r.rtype) for r, _ttl in changes]:
            raise ttl_change.DNSError("provider refused %s %s" % self.fail_on, status=500)
        self.writes.append([(r.name, r.rtype, ttl) for r, ttl in changes])
        for rrset, ttl in changes:
            self.records[(rrset.name, rrset.rtype)] = (ttl, self.records[(rrset.name, rrset.rtype)][1])

    def snap_ttl(self, ttl):
        if self.snap and ttl < self.snap:
            return self.snap, "stored as %d (the provider's smallest)" % self.snap
        return ttl, None


ZONE = "lab.example."
APP = ("app.lab.example.", "A")
WWW = ("www.lab.example.", "CNAME")


def zone(**kwargs):
    return MemoryZone(ZONE, {APP: (3600, ["127.0.0.10"]), WWW: (300, ["app.lab.example."])}, **kwargs)


def saved_records(tmp_path, run_id):
    return json.load(open(os.path.join(str(tmp_path), run_id, "state.json")))["facts"]["dns_ttl"]["records"]


@pytest.mark.parametrize("zone,expected", [("Example.COM", "example.com."), ("lab.example.", "lab.example.")])
def test_normalize_zone(zone, expected):
    assert ttl_change.normalize_zone(zone) == expected


@pytest.mark.parametrize("zone", ["", ".", None, "bad zone.com", "-x.com"])
def test_normalize_zone_rejects(zone):
    with pytest.raises(ttl_change.DNSError, match="zone"):
        ttl_change.normalize_zone(zone)


@pytest.mark.parametrize("name,expected", [
    ("app", "app.lab.example."),
    ("@", "lab.example."),
    ("", "lab.example."),
    ("APP.lab.example", "app.lab.example."),
    ("app.lab.example.", "app.lab.example."),
    ("a.b", "a.b.lab.example."),
])
def test_fqdn(name, expected):
    assert ttl_change.fqdn(name, "lab.example") == expected


def test_fqdn_outside_zone():
    with pytest.raises(ttl_change.DNSError, match="not inside zone"):
        ttl_change.fqdn("app.other.example.", "lab.example")


@pytest.mark.parametrize("value,expected", [(60, 60), ("300", 300), (0, 0), (5.0, 5), (" 7 ", 7)])
def test_validate_ttl(value, expected):
    assert ttl_change.validate_ttl(value) == expected


@pytest.mark.parametrize("value,match", [
    (-1, "negative"), ("-60", "negative"), ("abc", "not a number"), (True, "not a number"),
    (1.5, "not a number"), (None, "not a number"), (2 ** 31, "too large"),
])
def test_validate_ttl_rejects(value, match):
    with pytest.raises(ttl_change.DNSError, match=match):
        ttl_change.validate_ttl(value)


def test_normalize_records_dedups_and_types():
    keys = ttl_change.normalize_records([{"name": "app"}, "app A", {"name": "www", "type": "cname"}], "lab.example")
    assert keys == [("app.lab.example.", "A"), ("www.lab.example.", "CNAME")]


@pytest.mark.parametrize("records,match", [([], "no records"), ([{"name": "x", "type": "SOA"}], "SOA"),
                                           (["justone"], "NAME TYPE"), ([{"name": "x", "type": "A B"}], "type")])
def test_normalize_records_rejects(records, match):
    with pytest.raises(ttl_change.DNSError, match=match):
        ttl_change.normalize_records(records, "lab.example")


def test_state_keeps_first_original_and_archives_finished_cycles(tmp_path):
    zone = "lab.example."
    state = ttl_change.TTLState(str(tmp_path), "run1", zone, "powerdns")
    state.remember(ttl_change.RRset("app.lab.example.", "A", 3600, ["127.0.0.10"]), 60)
    state.save()
    again = ttl_change.TTLState(str(tmp_path), "run1", zone, "powerdns")
    again.remember(ttl_change.RRset("app.lab.example.", "A", 60, ["127.0.0.10"]), 30)  # a re-run sees the lowered TTL
    again.save()
    saved = json.load(open(os.path.join(str(tmp_path), "run1", "state.json")))["facts"]["dns_ttl"]
    assert saved["records"]["app.lab.example./A"]["original_ttl"] == 3600
    assert saved["records"]["app.lab.example./A"]["lowered_ttl"] == 30
    again.mark_restored("app.lab.example./A")
    again.journal.finish("done")
    again.save()
    third = ttl_change.TTLState(str(tmp_path), "run1", zone, "powerdns")
    assert third.pending() == {}
    third.new_cycle_if_finished()
    assert third.data["records"] == {}
    assert [f for f in os.listdir(os.path.join(str(tmp_path), "run1")) if f.startswith("state.json.")]


def test_state_refuses_another_zone(tmp_path):
    state = ttl_change.TTLState(str(tmp_path), "run2", "lab.example.", "powerdns")
    state.remember(ttl_change.RRset("app.lab.example.", "A", 3600), 60)
    state.save()
    with pytest.raises(ttl_change.DNSError, match="saved TTLs for zone lab.example."):
        ttl_change.TTLState(str(tmp_path), "run2", "other.example.", "powerdns")


def test_diff_of():
    rows = [{"name": "a.", "type": "A", "old_ttl": 3600, "new_ttl": 60}]
    assert ttl_change.diff_of(rows) == {"before": {"a./A": 3600}, "after": {"a./A": 60}}

def test_duration_counts_from_the_largest_unit():
    assert ttl_change.duration(0) == "0 s"
    assert ttl_change.duration(59.6) == "1 min 0 s"
    assert ttl_change.duration(3600) == "1 h 0 min 0 s"
    assert ttl_change.duration(90061) == "1 d 1 h 1 min 1 s"
    assert ttl_change.duration(-5) == "0 s"


def test_lower_saves_originals_before_writing_and_reports_when_old_answers_are_gone(tmp_path):
    provider = zone()
    state = ttl_change.TTLState(str(tmp_path), "r1", ZONE, provider.name)
    rows = ttl_change.lower(provider, "LAB.example", [APP, WWW], 60, state, publish_lag=5)
    assert provider.records[APP][0] == 60 and provider.records[WWW][0] == 60
    assert provider.writes == [[(APP[0], "A", 60), (WWW[0], "CNAME", 60)]]
    assert [(r["old_ttl"], r["new_ttl"], r["changed"]) for r in rows] == [(3600, 60, True), (300, 60, True)]
    # old TTL + publish lag + the resolvers' clock slack, counted from the change
    assert "publish lag 5 s + old TTL 3600 s" in rows[0]["old_answers_gone_why"]
    app_gone = ttl_change._epoch(rows[0]["old_answers_gone_at"])
    www_gone = ttl_change._epoch(rows[1]["old_answers_gone_at"])
    assert app_gone - www_gone == pytest.approx(3300, abs=2)
    saved = saved_records(tmp_path, "r1")
    assert saved["app.lab.example./A"]["original_ttl"] == 3600 and saved["app.lab.example./A"]["lowered_ttl"] == 60
    assert os.path.exists(os.path.join(str(tmp_path), "r1", "report.md"))


def test_lower_in_check_mode_writes_nothing(tmp_path):
    provider = zone()
    state = ttl_change.TTLState(str(tmp_path), "r2", ZONE, provider.name)
    rows = ttl_change.lower(provider, ZONE, [APP], 60, state, check_mode=True)
    assert provider.writes == [] and provider.records[APP][0] == 3600
    assert rows[0]["changed"] and rows[0]["old_answers_gone_from"] == "now"
    assert not os.path.exists(os.path.join(str(tmp_path), "r2", "state.json"))


def test_lower_a_missing_record_changes_nothing(tmp_path):
    provider = zone()
    state = ttl_change.TTLState(str(tmp_path), "r3", ZONE, provider.name)
    with pytest.raises(ttl_change.DNSError, match="no such record .*nothing was changed"):
        ttl_change.lower(provider, ZONE, [APP, ("gone.lab.example.", "A")], 60, state)
    assert provider.writes == [] and state.pending() == {}


def test_a_refused_lowering_forgets_the_saved_originals_and_records_the_failure(tmp_path):
    provider = zone(fail_on=WWW)
    state = ttl_change.TTLState(str(tmp_path), "r4", ZONE, provider.name)
    with pytest.raises(ttl_change.DNSError) as caught:
        ttl_change.lower(provider, ZONE, [APP, WWW], 60, state)
    assert caught.value.status == 500
    assert saved_records(tmp_path, "r4") == {}
    steps = json.load(open(os.path.join(str(tmp_path), "r4", "state.json")))["steps"]
    assert steps[-1]["name"] == "dns_ttl_lower" and steps[-1]["status"] == "failed"


def test_a_rerun_keeps_the_first_original_and_restore_puts_it_back(tmp_path):
    provider = zone(snap=30)
    first = ttl_change.TTLState(str(tmp_path), "r5", ZONE, provider.name)
    rows = ttl_change.lower(provider, ZONE, [APP], 10, first)
    assert rows[0]["new_ttl"] == 30 and "smallest" in rows[0]["note"]
    again = ttl_change.TTLState(str(tmp_path), "r5", ZONE, provider.name)
    rows = ttl_change.lower(provider, ZONE, [APP], 30, again)
    assert not rows[0]["changed"] and rows[0]["original_ttl"] == 3600 and rows[0]["lowered_at"]
    restorer = ttl_change.TTLState(str(tmp_path), "r5", ZONE, provider.name)
    restored = ttl_change.restore(provider, ZONE, restorer)
    assert [(r["old_ttl"], r["new_ttl"]) for r in restored] == [(30, 3600)]
    assert provider.records[APP][0] == 3600
    assert ttl_change.TTLState(str(tmp_path), "r5", ZONE, provider.name).pending() == {}
    assert ttl_change.restore(provider, ZONE, ttl_change.TTLState(str(tmp_path), "r5", ZONE, provider.name)) == []


def test_restore_in_check_mode_plans_without_writing(tmp_path):
    provider = zone()
    ttl_change.lower(provider, ZONE, [APP], 60, ttl_change.TTLState(str(tmp_path), "r6", ZONE, provider.name))
    writes = len(provider.writes)
    rows = ttl_change.restore(provider, ZONE, ttl_change.TTLState(str(tmp_path), "r6", ZONE, provider.name),
                              check_mode=True)
    assert rows[0]["new_ttl"] == 3600 and len(provider.writes) == writes and provider.records[APP][0] == 60
    assert "app.lab.example./A" in ttl_change.TTLState(str(tmp_path), "r6", ZONE, provider.name).pending()


def test_restore_puts_back_what_exists_and_keeps_a_vanished_record_saved(tmp_path):
    provider = zone()
    ttl_change.lower(provider, ZONE, [APP, WWW], 60, ttl_change.TTLState(str(tmp_path), "r7", ZONE, provider.name))
    del provider.records[WWW]
    state = ttl_change.TTLState(str(tmp_path), "r7", ZONE, provider.name)
    with pytest.raises(ttl_change.DNSError, match="restored 1 record.*www.lab.example. CNAME"):
        ttl_change.restore(provider, ZONE, state)
    assert provider.records[APP][0] == 3600
    pending = ttl_change.TTLState(str(tmp_path), "r7", ZONE, provider.name).pending()
    assert list(pending) == ["www.lab.example./CNAME"] and pending["www.lab.example./CNAME"]["original_ttl"] == 300


def test_migration_start_is_the_latest_record_and_none_without_rows():
    rows = [{"name": "a.", "type": "A", "old_ttl": 60}, {"name": "b.", "type": "A", "old_ttl": 600}]
    start = ttl_change.old_answers_gone(rows, publish_lag=0, now=1000.0)
    assert start["name"] == "b." and start["in"] == 601.0 and "if the TTLs are lowered now" in start["text"]
    assert ttl_change.migration_start([{"name": "a.", "type": "A"}]) is None
