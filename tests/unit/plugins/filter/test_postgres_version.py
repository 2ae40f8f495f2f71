"""Unit tests for the postgres_minor_policy filter."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.filter.postgres_version import FilterModule


def test_filter_is_registered_and_decides():
    policy = FilterModule().filters()["postgres_minor_policy"]
    assert policy("15.17", "15.18") == "upgrade"
    assert policy("15.18", "15.18") == "noop"


@pytest.mark.parametrize("target", ["15.16", "18.1", "x"])
def test_filter_fails_with_the_reason(target):
    with pytest.raises(AnsibleFilterError, match="postgres_minor_policy: "):
        FilterModule().filters()["postgres_minor_policy"]("15.17", target)
