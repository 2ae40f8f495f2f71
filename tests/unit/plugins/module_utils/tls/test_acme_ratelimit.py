"""ACME rate-limit arithmetic: windows, duplicates, renewals, public suffixes."""

import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.tls import acme_ratelimit

NOW = "2026-11-27T12:00:00Z"


def issued(names, when, serial=None):
    rec = {"names": names, "issued_at": when}
    if serial:
        rec["serial"] = serial
    return rec


def domain(result, name):
    return next(d for d in result["registered_domains"] if d["domain"] == name)


def name_set(result, names):
    return next(s for s in result["name_sets"] if s["names"] == sorted(names))


@pytest.mark.parametrize("name, expected", [
    ("www.example.com", "example.com"),
    ("a.b.shop.example.co.uk", "example.co.uk"),
    ("*.example.org", "example.org"),
    ("user.github.io", "user.github.io"),   # private suffix section of the PSL
    ("WWW.Example.COM.", "example.com"),
    ("192.0.2.1", "192.0.2.1"),
])
def test_registered_domain_uses_the_public_suffix_list(name, expected):
    assert acme_ratelimit.registered_domain(acme_ratelimit.normalize_name(name)) == expected


@pytest.mark.parametrize("age, counted", [
    ("2026-11-20T12:00:00Z", False),   # exactly 7 days old: out of the window
    ("2026-11-20T12:00:01Z", True),    # one second younger: in
    ("2026-11-27T12:00:00Z", True),    # issued right now
    ("2026-11-27T12:00:01Z", False),   # in the future: not yet issued
])
def test_window_edges(age, counted):
    result = acme_ratelimit.headroom([issued(["a.example.com"], age)], now=NOW)
    assert result["issuances_counted"] == (1 if counted else 0)


def test_duplicates_by_serial_and_by_names_and_time_count_once():
    records = [issued(["a.example.com"], "2026-11-26T00:00:00Z", "0abc"),
               issued(["a.example.com"], "2026-11-26T00:00:00Z", "ABC"),       # same serial, other case/zeros
               issued(["b.example.com"], "2026-11-25T00:00:00Z"),
               issued(["B.example.com."], "2026-11-25T00:00:00+00:00")]         # same names and time
    result = acme_ratelimit.headroom(records, now=NOW)
    assert result["duplicates_dropped"] == 2
    assert result["issuances_counted"] == 2
    assert domain(result, "example.com")["used"] == 2


def test_certificate_counts_once_per_registered_domain_even_with_many_names():
    result = acme_ratelimit.headroom([issued(["a.example.com", "b.example.com", "www.other.net"], "2026-11-26T00:00:00Z")],
                        now=NOW)
    assert domain(result, "example.com")["used"] == 1
    assert domain(result, "other.net")["used"] == 1
    assert name_set(result, ["a.example.com", "b.example.com", "www.other.net"])["used"] == 1


def test_renewal_of_known_name_set_is_exempt_from_domain_limit_but_not_from_exact_set_limit():
    records = [issued(["a.example.com"], "2026-11-01T00:00:00Z")]            # before the window
    records += [issued(["a.example.com"], "2026-11-2%dT00:00:00Z" % d) for d in range(1, 6)]
    result = acme_ratelimit.headroom(records, planned=[["a.example.com"]], now=NOW)
    d = domain(result, "example.com")
    assert (d["used"], d["renewals"], d["planned"]) == (0, 5, 0)
    s = name_set(result, ["a.example.com"])
    assert (s["used"], s["remaining"], s["after_planned"], s["fits"]) == (5, 0, -1, False)
    assert s["next_slot_at"] == "2026-11-28T00:00:00Z"     # oldest in-window issuance + 7 days
    assert not result["fits"]
    assert "names [a.example.com]: 5 issued" in result["problems"][0]


def test_planned_reissue_that_exceeds_domain_headroom_is_reported():
    records = [issued(["h%d.example.com" % i], "2026-11-26T00:00:00Z") for i in range(48)]
    result = acme_ratelimit.headroom(records, planned=[["new1.example.com"], ["new2.example.com"], ["new3.example.com"]],
                        now=NOW)
    d = domain(result, "example.com")
    assert (d["used"], d["remaining"], d["planned"], d["after_planned"]) == (48, 2, 3, -1)
    assert not result["fits"]
    fits = acme_ratelimit.headroom(records, planned=[["new1.example.com"], ["new2.example.com"]], now=NOW)
    assert fits["fits"] and domain(fits, "example.com")["after_planned"] == 0


def test_the_same_planned_set_twice_is_one_new_certificate_and_one_renewal():
    result = acme_ratelimit.headroom([], planned=[["x.example.com"], ["x.example.com"]], now=NOW)
    assert domain(result, "example.com")["planned"] == 1
    assert name_set(result, ["x.example.com"])["planned"] == 2


@pytest.mark.parametrize("records, message", [
    ([{"names": [], "issued_at": NOW}], "non-empty list"),
    ([{"names": ["a b.example.com"], "issued_at": NOW}], "not a DNS name"),
    ([{"names": ["a.example.com"], "issued_at": "yesterday"}], "ISO 8601"),
    (["a.example.com"], "must be a dict"),
])
def test_bad_issuances_are_clear_errors(records, message):
    with pytest.raises(acme_ratelimit.RateLimitError, match=message):
        acme_ratelimit.headroom(records, now=NOW)


def test_ledger_round_trip_and_bad_line(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("# comment\n" + acme_ratelimit.ledger_line(["B.example.com", "a.example.com"], "2026-11-26T00:00:00Z",
                                                    serial="ff") + "\n\n")
    records = acme_ratelimit.read_ledger(str(ledger))
    assert records == [{"names": ["a.example.com", "b.example.com"], "issued_at": "2026-11-26T00:00:00Z",
                        "serial": "ff", "source": "ledger"}]
    assert acme_ratelimit.read_ledger(str(tmp_path / "missing.jsonl")) == []
    ledger.write_text(json.dumps({"names": ["a.example.com"], "issued_at": NOW}) + "\nnot json\n")
    with pytest.raises(acme_ratelimit.RateLimitError, match="line 2 is not JSON"):
        acme_ratelimit.read_ledger(str(ledger))
