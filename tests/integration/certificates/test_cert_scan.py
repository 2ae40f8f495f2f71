"""tls_certificate_scan against the lab's nginx: one endpoint per certificate case, bad input."""

import socket

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.tls import endpoint_scan

CASES = ["healthy", "expiring", "expired", "wrong-name", "incomplete-chain", "self-signed"]


def endpoint(env, case, **extra):
    ep = {"name": case, "host": env["TLS_ENDPOINTS_HOST"], "port": int(env["TLS_ENDPOINTS_PORT"]),
          "server_name": "%s.%s" % (case, env["TLS_DOMAIN"])}
    ep.update(extra)
    return ep


@pytest.fixture(scope="module")
def scanned(tls_env, run_module):
    result = run_module("tls_certificate_scan", {
        "endpoints": [endpoint(tls_env, c) for c in CASES] + [
            {"name": "no-dns", "host": "does-not-exist.invalid", "port": 443},
            {"name": "refused", "host": "127.0.0.1", "port": 1},
            {"name": "plain-http", "host": "127.0.0.1", "port": int(tls_env["TLS_HTTP_PORT"]),
             "server_name": "healthy.lab.test"}],
        "ca_file": tls_env["TLS_CA_BUNDLE"], "warn_days": 21, "fail_days": 7, "timeout": 3})
    assert result.get("failed") is not True, result
    return dict((ep["name"], ep) for ep in result["endpoints"]), result


def test_healthy(scanned):
    ep = scanned[0]["healthy"]
    assert ep["status"] == "ok" and ep["findings"] == []
    assert ep["chain_valid"] and ep["name_matches"] and ep["chain_length"] == 2
    assert ep["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert 75 < ep["days_left"] < 81
    assert "fournines lab intermediate CA" in ep["issuer"]
    assert ep["sans"] == ["healthy.lab.test"]


def test_expiring_within_warning_window(scanned):
    ep = scanned[0]["expiring"]
    assert ep["status"] == "warning" and 7 < ep["days_left"] < 21 and ep["chain_valid"]


def test_expired_is_still_read(scanned):
    ep = scanned[0]["expired"]
    assert ep["status"] == "critical" and ep["expired"] is True
    assert ep["days_left"] < 0 and ep["not_after"] and ep["sans"] == ["expired.lab.test"]
    assert ep["chain_problem"] == "expired"


def test_wrong_hostname(scanned):
    ep = scanned[0]["wrong-name"]
    assert ep["status"] == "critical" and ep["name_matches"] is False
    assert ep["sans"] == ["other.lab.test"] and ep["chain_valid"] is True


def test_incomplete_chain(scanned):
    ep = scanned[0]["incomplete-chain"]
    assert ep["chain_length"] == 1 and ep["chain_valid"] is False and ep["chain_problem"] == "incomplete_chain"
    assert ep["name_matches"] is True


def test_self_signed(scanned):
    ep = scanned[0]["self-signed"]
    assert ep["self_signed"] is True and ep["chain_problem"] == "self_signed" and ep["status"] == "critical"


@pytest.mark.parametrize("name, error", [("no-dns", "resolve"), ("refused", "refused"), ("plain-http", "handshake")])
def test_per_endpoint_errors_do_not_fail_the_scan(scanned, name, error):
    ep = scanned[0][name]
    assert ep["status"] == "error" and ep["error"] == error


def test_summary_counts(scanned):
    assert scanned[1]["summary"] == {"ok": 1, "warning": 1, "critical": 4, "error": 3, "total": 9}
    assert scanned[1]["changed"] is False


def test_timeout_is_per_endpoint(tls_env):
    # a TCP listener that never answers the TLS handshake
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    port = silent.getsockname()[1]
    try:
        result = endpoint_scan.scan([{"host": "127.0.0.1", "port": port, "server_name": "slow.lab.test"},
                         endpoint(tls_env, "healthy")], ca_file=tls_env["TLS_CA_BUNDLE"], timeout=2)
    finally:
        silent.close()
    slow, healthy = result["endpoints"]
    assert slow["error"] == "timeout" and healthy["status"] == "ok"


def test_system_trust_store_rejects_lab_ca(tls_env, run_module):
    result = run_module("tls_certificate_scan", {"endpoints": [endpoint(tls_env, "healthy")]})
    ep = result["endpoints"][0]
    assert ep["chain_valid"] is False and ep["chain_problem"] == "untrusted_root"
    assert "fournines lab root CA" in ep["chain_error"]


@pytest.mark.parametrize("args, message", [
    ({"port": 70000}, "port 70000 is out of range; use 1-65535"),
    ({"ca_file": "/etc/hostname"}, "holds no PEM certificate"),
    ({"ca_file": "/nonexistent/ca.pem"}, "does not exist"),
])
def test_bad_input_is_a_clear_error(tls_env, run_module, args, message):
    ep = endpoint(tls_env, "healthy")
    ep.update(args)
    result = run_module("tls_certificate_scan", {"endpoints": [ep]})
    assert result["failed"] is True and message in result["msg"]
    assert "Traceback" not in str(result)


def test_thresholds_warn_below_fail(tls_env, run_module):
    result = run_module("tls_certificate_scan", {"endpoints": [endpoint(tls_env, "healthy")],
                                                 "warn_days": 3, "fail_days": 7})
    assert result["failed"] is True and "warn_days (3) is smaller than fail_days (7)" in result["msg"]


def test_duplicates_are_scanned_once_with_a_warning(tls_env, run_module):
    ep = endpoint(tls_env, "healthy")
    result = run_module("tls_certificate_scan", {"endpoints": [ep, dict(ep, name="again")],
                                                 "ca_file": tls_env["TLS_CA_BUNDLE"]})
    assert len(result["endpoints"]) == 1 and result["duplicates"][0]["same_as"] == 0
    assert any("repeats endpoints[0]" in w for w in result["warnings"])
