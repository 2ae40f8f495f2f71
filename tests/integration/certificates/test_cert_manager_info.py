"""cert_manager_certificate_info and tls_acme_headroom against the lab Kubernetes.

The cert-manager objects are seeded by lab/tls/up (no cert-manager controller runs in the lab).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lab"))
import labenv  # noqa: E402


@pytest.fixture(scope="module")
def cm(tls_env, run_module):
    if tls_env.get("TLS_CERT_MANAGER_SEEDED") != "yes":
        pytest.fail("cert-manager objects are not seeded (lab Kubernetes down?): run lab/up")
    result = run_module("cert_manager_certificate_info", {"kubeconfig": labenv.kubeconfig(),
                                                          "namespaces": ["certs-shop", "certs-blog"]})
    assert result.get("failed") is not True, result
    return result


def by_name(cm, name):
    return next(c for c in cm["certificates"] if c["name"] == name)


def test_ready(cm):
    c = by_name(cm, "shop-ready")
    assert (c["state"], c["status"], c["ready"], c["issuing"]) == ("ready", "ok", True, False)
    assert c["secret"]["matches_status"] is True
    assert c["issuer"] == {"name": "letsencrypt-lab", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert c["latest_request"]["name"] == "shop-ready-3" and c["latest_request"]["order"]["state"] == "valid"


def test_renewing(cm):
    c = by_name(cm, "shop-renewing")
    assert (c["state"], c["issuing"], c["issuing_reason"]) == ("renewing", True, "Renewing")
    assert c["latest_request"]["order"]["state"] == "pending"


def test_stuck_renewal(cm):
    c = by_name(cm, "shop-stuck")
    assert (c["state"], c["status"]) == ("renewing", "warning")
    assert c["findings"][0].startswith("issuance stuck")


def test_failing_with_attempts_and_last_failure(cm):
    c = by_name(cm, "blog-failing")
    assert c["state"] == "failing" and c["status"] == "critical"
    assert c["failed_issuance_attempts"] == 3 and c["last_failure_time"]
    assert c["next_retry_at"] > c["last_failure_time"]
    assert c["secret"] == {"exists": False}
    assert "rateLimited" in c["latest_request"]["order"]["reason"]


def test_past_renewal_time_not_renewed(cm):
    c = by_name(cm, "blog-overdue")
    assert (c["state"], c["status"], c["issuing"]) == ("overdue", "warning", False)
    assert c["renewal_time"] < cm["checked_at"]


def test_secret_that_does_not_match_status(cm):
    c = by_name(cm, "shop-stale-secret")
    assert c["secret"]["matches_status"] is False and c["status"] == "warning"
    assert c["secret"]["not_after"] != c["not_after"]


def test_all_namespaces_by_default(run_module, cm):
    result = run_module("cert_manager_certificate_info", {"kubeconfig": labenv.kubeconfig()})
    names = set((c["namespace"], c["name"]) for c in result["certificates"])
    assert set((c["namespace"], c["name"]) for c in cm["certificates"]) <= names


def test_headroom_from_certificate_requests(run_module, cm, tmp_path):
    assert len(cm["issuances"]) >= 13   # every issued CertificateRequest, blog's 5 re-issues included
    result = run_module("tls_acme_headroom", {"issuances": cm["issuances"], "ledger": str(tmp_path / "none.jsonl"),
                                              "planned": [["blog.lab.test"], ["new.lab.test"]]})
    blog = next(s for s in result["name_sets"] if s["names"] == ["blog.lab.test"])
    assert (blog["used"], blog["remaining"], blog["fits"]) == (5, 0, False)
    assert blog["next_slot_at"] is not None
    new = next(s for s in result["name_sets"] if s["names"] == ["new.lab.test"])
    assert new["fits"] is True
    assert result["fits"] is False and any("blog.lab.test" in p for p in result["problems"])


def test_bad_kubeconfig_is_a_clear_error(run_module, tmp_path):
    result = run_module("cert_manager_certificate_info", {"kubeconfig": str(tmp_path / "missing")})
    assert result["failed"] is True and "Traceback" not in result["msg"]
