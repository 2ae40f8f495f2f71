"""Unit tests for the maintenance_window_open filter (the rules are upgrade_preflight.in_window's)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.filter.maintenance_window_open import maintenance_window_open

SAT_NIGHT = {"days": ["sat", "sun"], "start": "23:00", "end": "03:00"}


def test_empty_window_is_always_open():
    assert maintenance_window_open({}) and maintenance_window_open(None)


@pytest.mark.parametrize("now, open_", [
    ("2026-12-05T23:30:00Z", True),    # Saturday, after the start
    ("2026-12-06T02:59:00+00:00", True),  # Sunday, before the end (across midnight)
    ("2026-12-05T12:00:00Z", False),   # Saturday noon
    ("2026-12-07T01:00:00Z", False),   # Monday
    ("2026-12-06T03:30:00+02:00", True),  # 01:30 UTC on Sunday
])
def test_window_across_midnight(now, open_):
    assert maintenance_window_open(SAT_NIGHT, now) is open_


def test_bad_windows_name_what_is_valid():
    with pytest.raises(AnsibleFilterError, match="HH:MM"):
        maintenance_window_open({"start": "25:00"}, "2026-12-05T00:00:00Z")
    with pytest.raises(AnsibleFilterError, match="mon, tue"):
        maintenance_window_open({"days": ["funday"]}, "2026-12-05T00:00:00Z")
    with pytest.raises(AnsibleFilterError, match="not valid"):
        maintenance_window_open("weekends")
    with pytest.raises(AnsibleFilterError, match="ISO 8601"):
        maintenance_window_open(SAT_NIGHT, "yesterday")
