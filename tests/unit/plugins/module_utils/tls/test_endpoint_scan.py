"""tls.py without the network: endpoint validation, name matching, chain judgement, verdicts."""

import datetime
import os
import sys

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.tls import endpoint_scan

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "lab", "tls"))
import gen_certs as G  # noqa: E402  (the lab's certificate factory, real X.509)

NOW = G.NOW


@pytest.fixture(scope="module")
def pki():
    root_key, int_key = G._key(), G._key()
    root = G._ca("test root", root_key, None, None, 1)
    inter = G._ca("test intermediate", int_key, root, root_key, 0)

    def leaf(names, before=-10, after=80, issuer=(inter, int_key)):
        return G._leaf(names, G._key(), issuer[0], issuer[1], before, after)
    return {"root": root, "inter": inter, "leaf": leaf, "self": lambda n: G._leaf(n, G._key(), None, None, -1, 30)}


@pytest.mark.parametrize("requested, sans, expected", [
    ("www.example.com", ["www.example.com"], True),
    ("WWW.Example.com.", ["www.example.com"], True),
    ("a.example.com", ["*.example.com"], True),
    ("a.b.example.com", ["*.example.com"], False),     # a wildcard covers one label only
    ("example.com", ["*.example.com"], False),
    ("x.com", ["*.com"], False),                         # no wildcard over a TLD
    ("other.example.com", ["www.example.com"], False),
    ("127.0.0.1", ["127.0.0.1"], True),
    ("127.0.0.1", ["*.0.0.1"], False),
    ("bücher.example", ["xn--bcher-kva.example"], True),
    ("", ["www.example.com"], False),
])
def test_name_matching_follows_rfc6125(requested, sans, expected):
    assert endpoint_scan.name_matches(requested, sans) is expected


@pytest.mark.parametrize("endpoint, message", [
    ({"host": "a.example", "port": 0}, "port 0 is out of range; use 1-65535"),
    ({"host": "a.example", "port": 70000}, "out of range"),
    ({"host": "a.example", "port": "https"}, "is not a number"),
    ({"host": ""}, "must be a host name"),
    ({"host": "a b"}, "without spaces"),
    ({"host": "a.example", "colour": "red"}, "unknown keys colour"),
    (42, "must be a dict"),
])
def test_bad_endpoints_are_clear_errors(endpoint, message):
    with pytest.raises(endpoint_scan.TLSError, match=message):
        endpoint_scan.normalize_endpoints([endpoint])


def test_defaults_and_duplicates():
    eps, dups = endpoint_scan.normalize_endpoints(["www.example.com", {"host": "WWW.example.com", "port": 443},
                                       {"host": "192.0.2.1", "port": 8443}, {"host": "www.example.com", "port": 8443}])
    assert [e["name"] for e in eps] == ["www.example.com:443", "192.0.2.1:8443", "www.example.com:8443"]
    assert eps[1]["server_name"] is None     # no SNI for an IP address
    assert dups == [{"index": 1, "same_as": 0, "name": "WWW.example.com:443"}]


@pytest.mark.parametrize("warn, fail", [(5, 7), (-1, -2), (None, 3)])
def test_thresholds_warn_below_fail_are_refused(warn, fail):
    with pytest.raises(endpoint_scan.TLSError):
        endpoint_scan.check_thresholds(warn, fail)


def test_ca_file_that_is_not_a_certificate(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("this is not PEM\n")
    with pytest.raises(endpoint_scan.TLSError, match="holds no PEM certificate"):
        endpoint_scan.load_trust(str(bad))
    with pytest.raises(endpoint_scan.TLSError, match="does not exist"):
        endpoint_scan.load_trust(str(tmp_path / "missing.pem"))
    with pytest.raises(endpoint_scan.TLSError, match="holds no PEM certificate"):
        endpoint_scan.scan([{"host": "127.0.0.1", "port": 1, "ca_file": str(bad)}])


def test_chain_judgement(pki):
    trust = [pki["root"]]
    good = pki["leaf"](["www.example.com"])
    assert endpoint_scan.judge_chain([good, pki["inter"]], trust, NOW) == (True, None, None)
    assert endpoint_scan.judge_chain([good], trust, NOW)[1] == "incomplete_chain"
    expired = pki["leaf"](["old.example.com"], before=-100, after=-1)
    valid, problem, reason = endpoint_scan.judge_chain([expired, pki["inter"]], trust, NOW)
    assert (valid, problem) == (False, "expired") and "expired on" in reason
    assert endpoint_scan.judge_chain([pki["self"](["me.example.com"])], trust, NOW)[1] == "self_signed"
    assert endpoint_scan.judge_chain([good, pki["inter"], pki["root"]], [pki["self"](["x.example"])], NOW)[1] == "untrusted_root"
    # a wrong name is not a chain problem: the chain is judged for the leaf's own names
    assert endpoint_scan.judge_chain([pki["leaf"](["other.example.com"]), pki["inter"]], trust, NOW)[0] is True


def _result(days, matches=True, chain_valid=True, problem=None):
    return {"error": None, "certificate": {"days_left": days, "not_after": "x"}, "name_matches": matches,
            "requested_name": "a.example", "sans": ["b.example"], "chain_valid": chain_valid,
            "chain_problem": problem, "chain_error": "why"}


@pytest.mark.parametrize("result, status", [
    (_result(30), "ok"),
    (_result(21), "ok"),            # exactly at the warning threshold: not yet
    (_result(20.9), "warning"),
    (_result(6.9), "critical"),
    (_result(-1, chain_valid=False, problem="expired"), "critical"),
    (_result(30, matches=False), "critical"),
    (_result(30, chain_valid=False, problem="incomplete_chain"), "critical"),
    ({"error": "refused", "error_detail": "connection refused"}, "error"),
])
def test_verdicts(result, status):
    assert endpoint_scan.judge(result, 21, 7)["status"] == status


def test_parse_now():
    assert endpoint_scan.parse_now("2026-11-27T00:00:00Z") == datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
    with pytest.raises(endpoint_scan.TLSError, match="ISO 8601"):
        endpoint_scan.parse_now("tomorrow")
