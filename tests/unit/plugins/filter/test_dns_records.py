import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.filter.dns_records import FilterModule

F = FilterModule().filters()["dns_records"]


def test_list_of_dicts_passes_through():
    records = [{"name": "app", "type": "A"}, {"name": "www.lab.example.", "type": "CNAME"}]
    assert F(records) == records


def test_textarea_answer_gives_one_rrset_per_line():
    text = "app A\n\n# the web front\nwww cname   # legacy\n"
    assert F(text) == [{"name": "app", "type": "A"}, {"name": "www", "type": "CNAME"}]


def test_a_name_alone_leaves_the_type_to_the_provider():
    assert F("ext\n") == [{"name": "ext"}]
    assert F([{"name": "ext"}]) == [{"name": "ext"}]


def test_list_of_strings():
    assert F(["app A", "api AAAA"]) == [{"name": "app", "type": "A"}, {"name": "api", "type": "AAAA"}]


@pytest.mark.parametrize("value,message", [
    ("app A\nwww CNAME extra", "line 2 ('www CNAME extra') is not 'NAME TYPE'"),
    ("app 12", "record type '12' is not a DNS type"),
    ("app SOA", "the SOA TTL is not changed record by record"),
    ("", "records is empty"),
    ("# only a comment\n", "records holds no RRset"),
    ([{"type": "A"}], "item 1 ({'type': 'A'}) has no name"),
    (42, "must be a list of {name, type} or lines of 'NAME TYPE', not int"),
])
def test_bad_answers_name_the_line(value, message):
    with pytest.raises(AnsibleFilterError) as err:
        F(value)
    assert message in str(err.value)
