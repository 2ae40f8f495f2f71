"""testinfra checks after converge: what the lab host serves and what the report says."""

import json
import os

import pytest


def _env(host):
    values = {}
    for line in host.file(os.environ["LAB_TLS_ENV"]).content_string.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


@pytest.fixture(scope="module")
def report(host):
    f = host.file(os.environ["CERT_CHECK_REPORT"])
    assert f.exists, "converge wrote no report"
    return json.loads(f.content_string)


def test_lab_endpoints_listen(host):
    env = _env(host)
    assert host.socket("tcp://127.0.0.1:%s" % env["TLS_ENDPOINTS_PORT"]).is_listening
    assert host.socket("tcp://127.0.0.1:%s" % env["TLS_HTTP_PORT"]).is_listening


def test_every_endpoint_case_is_reported(report):
    statuses = dict((ep["name"], ep["status"]) for ep in report["report"]["endpoints"]["endpoints"])
    assert statuses == {"healthy": "ok", "expiring": "warning", "expired": "critical", "wrong-name": "critical",
                        "incomplete-chain": "critical", "self-signed": "critical", "renew": "ok"}
    problems = dict((ep["name"], ep.get("chain_problem")) for ep in report["report"]["endpoints"]["endpoints"])
    assert problems["incomplete-chain"] == "incomplete_chain" and problems["self-signed"] == "self_signed"


def test_renewed_endpoint_serves_a_pebble_certificate(host, report):
    env = _env(host)
    renew = report["report"]["renew"]
    assert renew["serves_new_certificate"] is True
    out = host.check_output("openssl s_client -connect 127.0.0.1:%s -servername localhost </dev/null 2>/dev/null "
                            "| openssl x509 -noout -issuer -enddate" % env["TLS_ENDPOINTS_PORT"])
    assert "Pebble Intermediate CA" in out
    verify = host.run("openssl s_client -connect 127.0.0.1:%s -servername localhost -verify_return_error "
                      "-CAfile %s </dev/null" % (env["TLS_ENDPOINTS_PORT"], env["TLS_CA_BUNDLE"]))
    assert verify.rc == 0 and "Verify return code: 0 (ok)" in verify.stdout


def test_issuance_is_in_the_ledger(host):
    lines = host.file(os.environ["CERT_CHECK_LEDGER"]).content_string.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["names"] == ["localhost"]


def test_cert_manager_states_when_seeded(host, report):
    if "TLS_CERT_MANAGER_SEEDED=yes" not in host.file(os.environ["LAB_TLS_ENV"]).content_string:
        pytest.skip("lab Kubernetes not seeded")
    states = dict((c["name"], (c["state"], c["status"])) for c in report["report"]["cert_manager"]["certificates"]
                  if c["namespace"] in ("certs-shop", "certs-blog"))
    # shop-renewing turns into a stuck renewal an hour after lab/up seeded it: only its state is fixed
    assert states.pop("shop-renewing")[0] == "renewing"
    assert states == {"shop-ready": ("ready", "ok"), "shop-stuck": ("renewing", "warning"),
                      "shop-stale-secret": ("ready", "warning"), "blog-failing": ("failing", "critical"),
                      "blog-overdue": ("overdue", "warning")}
    blog = next(s for s in report["report"]["headroom"]["name_sets"] if s["names"] == ["blog.lab.test"])
    assert blog["used"] == 5 and blog["remaining"] == 0
