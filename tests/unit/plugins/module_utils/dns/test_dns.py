"""Unit tests for dns/ttl_change.py and dns/propagation.py; each provider has its own under providers/."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change
from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation


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


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1", ("127.0.0.1:53", "127.0.0.1", 53)),
    ("127.0.0.1:15353", ("127.0.0.1:15353", "127.0.0.1", 15353)),
    ("127.0.0.1@15354", ("127.0.0.1:15354", "127.0.0.1", 15354)),
    ("[::1]:5353", ("[::1]:5353", "::1", 5353)),
    ("::1", ("[::1]:53", "::1", 53)),
])
def test_parse_nameserver(text, expected):
    assert propagation.parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["", "a:b:c@", "127.0.0.1:0", "127.0.0.1:70000", "host with space"])
def test_parse_nameserver_rejects(text):
    with pytest.raises(ttl_change.DNSError):
        propagation.parse_nameserver(text)


def test_expiry_moment_takes_the_later_of_convergence_and_publish_lag():
    results = [{"converged_at": "2026-01-01T00:00:10Z"}, {"converged_at": "2026-01-01T00:00:12Z"}]
    base = propagation.epoch("2026-01-01T00:00:12Z")
    moment, why = propagation.expiry_moment(results, 60, 0, changed_at="2026-01-01T00:00:00Z")
    assert moment == base + 60 + 1 and "converged" in why and "whole-second" in why  # 1 s: resolvers' clocks
    moment, why = propagation.expiry_moment(results, 60, 900, changed_at="2026-01-01T00:00:00Z")
    assert moment == propagation.epoch("2026-01-01T00:15:00Z") + 60 + 1 and "publish lag" in why


def test_normalize_expectations_canonicalises_names():
    exp = propagation.normalize_expectations([{"name": "www", "type": "CNAME", "values": ["app"], "ttl": "60"}],
                                      "lab.example")
    assert exp == [{"name": "www.lab.example.", "type": "CNAME", "ttl": 60, "values": ["app.lab.example."]}]
    with pytest.raises(ttl_change.DNSError, match="negative"):
        propagation.normalize_expectations([{"name": "www", "ttl": -5}], "lab.example")


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


def test_wait_out_ttl_sleeps_to_the_moment_with_bounded_progress():
    now = [1000.0]
    lines = []

    def sleep(seconds):
        now[0] += seconds

    propagation.wait_out_ttl(1000.0 + 3600, lines.append, clock=lambda: now[0], sleep=sleep)
    assert now[0] == 1000.0 + 3600
    assert 25 <= len(lines) <= 32 and lines[-1] == "old TTL expired everywhere"
    lines[:] = []
    propagation.wait_out_ttl(now[0] - 5, lines.append, clock=lambda: now[0], sleep=sleep)
    assert lines == ["old TTL expired everywhere"]
