"""dns_record_ttl and dns_propagation_wait reject bad input with a clear message before touching anything."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fournines.runbooks.plugins.modules import dns_propagation_wait, dns_record_ttl

# An API nobody listens on: a test that reached the provider would fail differently (and slowly).
POWERDNS = {"api_url": "http://127.0.0.1:9/", "api_key": "unused"}


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("ttl,message", [(-5, "ttl -5 is negative"), ("soon", "ttl 'soon' is not a number"),
                                         (True, "is not a number")])
def test_bad_ttl(ttl, message, capsys, tmp_path):
    out = run(dns_record_ttl, {"provider": "powerdns", "zone": "lab.example", "powerdns": POWERDNS,
                               "records": [{"name": "app"}], "ttl": ttl, "run_id": "r",
                               "reports_dir": str(tmp_path)}, capsys)
    assert out["failed"] and message in out["msg"]
    assert list(tmp_path.iterdir()) == []  # no journal either


@pytest.mark.parametrize("records,message", [([{"name": "x.other.example."}], "not inside zone lab.example."),
                                             ([{"name": "app", "type": "SOA"}], "SOA")])
def test_bad_records(records, message, capsys, tmp_path):
    out = run(dns_record_ttl, {"provider": "powerdns", "zone": "lab.example", "powerdns": POWERDNS,
                               "records": records, "ttl": 60, "run_id": "r", "reports_dir": str(tmp_path)}, capsys)
    assert out["failed"] and message in out["msg"]


def test_set_needs_a_run_id(capsys):
    out = run(dns_record_ttl, {"provider": "powerdns", "zone": "lab.example", "powerdns": POWERDNS,
                               "records": [{"name": "app"}], "ttl": 60}, capsys)
    assert out["failed"] and "run_id" in out["msg"]


def test_secrets_are_not_logged(capsys, tmp_path):
    out = run(dns_record_ttl, {"provider": "rfc2136", "zone": "lab.example", "ttl": -1, "run_id": "r",
                               "reports_dir": str(tmp_path), "records": [{"name": "app"}],
                               "rfc2136": {"server": "127.0.0.1", "tsig_key_name": "k",
                                           "tsig_key_secret": "c2VjcmV0LXZhbHVl"}}, capsys)
    assert "c2VjcmV0LXZhbHVl" not in json.dumps(out)


@pytest.mark.parametrize("args,message", [
    ({"records": [{"name": "app", "ttl": -1}]}, "negative"),
    ({"records": [{"name": "app"}], "nameservers": ["127.0.0.1:99999"]}, "port 99999"),
    ({"records": [{"name": "app"}], "old_ttl": "long"}, "old_ttl 'long' is not a number"),
])
def test_wait_bad_input(args, message, capsys):
    out = run(dns_propagation_wait, dict({"zone": "lab.example", "nameservers": ["127.0.0.1:9"]}, **args), capsys)
    assert out["failed"] and message in out["msg"]
