import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.filter.k8s_version import FilterModule

F = FilterModule().filters()


def test_minor_and_next():
    assert F["k8s_minor"]("v1.35.4") == "1.35"
    assert F["k8s_next_minor"]("1.34") == "1.35"


@pytest.mark.parametrize("current,available,target", [
    ("1.34", ["1.33", "1.34", "1.35"], "1.35"),
    ("1.35", ["1.33", "1.34", "1.35"], "1.35"),   # newest: stay (only nodes below it are rolled)
    ("v1.33.9", ["1.33", "1.34"], "1.34"),
])
def test_upgrade_target(current, available, target):
    assert F["k8s_upgrade_target"](current, available) == target


def test_bad_version_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="k8s_minor: 'latest' is not a Kubernetes version"):
        F["k8s_minor"]("latest")
