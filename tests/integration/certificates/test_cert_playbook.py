"""playbooks/check-certificates.yml against the lab: report, thresholds, renewal through Pebble."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.tls import endpoint_scan

PLAYBOOK = "playbooks/check-certificates.yml"


def test_report_covers_every_case(run_playbook, task_result, tmp_path):
    rc, out = run_playbook(PLAYBOOK, {"cert_check_reports_dir": str(tmp_path)})
    assert rc == 0, out
    report = task_result(out, "Write the report")
    assert report["status"] == "critical"
    with open(report["report"]["json"]) as handle:
        data = json.load(handle)["report"]
    statuses = dict((ep["name"], ep["status"]) for ep in data["endpoints"]["endpoints"])
    assert statuses == {"healthy": "ok", "expiring": "warning", "expired": "critical", "wrong-name": "critical",
                        "incomplete-chain": "critical", "self-signed": "critical", "renew": "critical"}
    if "cert_manager" in data:  # lab Kubernetes seeded
        states = dict((c["name"], c["state"]) for c in data["cert_manager"]["certificates"]
                      if c["namespace"] in ("certs-shop", "certs-blog"))
        assert states == {"shop-ready": "ready", "shop-renewing": "renewing", "shop-stuck": "renewing",
                          "shop-stale-secret": "ready", "blog-failing": "failing", "blog-overdue": "overdue"}
    with open(report["report"]["markdown"]) as handle:
        markdown = handle.read()
    for heading in ("## TLS endpoints", "## ACME rate-limit headroom", "| expired | **critical** |"):
        assert heading in markdown


def test_critical_verdict_fails_the_play_when_asked(run_playbook, task_result, tmp_path):
    rc, out = run_playbook(PLAYBOOK, {"cert_check_reports_dir": str(tmp_path), "cert_check_fail_on_critical": True,
                                      "cert_check_cert_manager": False})
    assert rc != 0
    failed = task_result(out, "Stop on a critical verdict")
    assert failed["failed"] and "expired" in failed["msg"]
    assert os.listdir(str(tmp_path)), "the report is written before the play fails"


def test_warn_below_fail_is_refused_before_scanning(run_playbook, task_result, tmp_path):
    rc, out = run_playbook(PLAYBOOK, {"cert_check_reports_dir": str(tmp_path), "cert_check_warn_days": 3,
                                      "cert_check_fail_days": 7})
    assert rc != 0
    assert "must be >= cert_check_fail_days" in task_result(out, "Check the thresholds")["msg"]
    assert not os.listdir(str(tmp_path))


def _served(tls_env):
    return endpoint_scan.scan([{"host": "127.0.0.1", "port": int(tls_env["TLS_ENDPOINTS_PORT"]), "server_name": "localhost"}],
                  ca_file=tls_env["TLS_CA_BUNDLE"])["endpoints"][0]


def test_renew_against_pebble(tls_env, run_playbook, task_result, tmp_path, restore_renew_endpoint):
    before = _served(tls_env)
    assert before["status"] == "critical" and "fournines lab" in before["issuer"]
    ledger = tmp_path / "ledger.jsonl"
    common = {"cert_check_reports_dir": str(tmp_path), "cert_check_acme_ledger": str(ledger),
              "cert_check_acme_work_dir": str(tmp_path / "acme"),
              "cert_check_cert_manager": False, "cert_check_action": "renew"}

    # check mode: a plan, nothing changes
    rc, out = run_playbook(PLAYBOOK, common, check=True)
    assert rc == 0, out
    assert _served(tls_env)["certificate"]["serial"] == before["certificate"]["serial"]
    assert not ledger.exists()

    rc, out = run_playbook(PLAYBOOK, common)
    assert rc == 0, out
    after = _served(tls_env)
    assert after["status"] == "ok" and after["chain_valid"] and after["name_matches"]
    assert "Pebble Intermediate CA" in after["issuer"] and after["days_left"] > 80
    renew = task_result(out, "Record what the renewal did")["ansible_facts"]["__cert_check_renew_result"]
    assert renew["serves_new_certificate"] is True
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert lines == [{"names": ["localhost"], "issued_at": lines[0]["issued_at"],
                      "serial": after["certificate"]["serial"], "source": "cert_check renew"}]

    # a second run finds a healthy certificate and leaves it alone
    rc, out = run_playbook(PLAYBOOK, common)
    assert rc == 0
    assert _served(tls_env)["certificate"]["serial"] == after["certificate"]["serial"]
    assert len(ledger.read_text().splitlines()) == 1


def test_renew_refused_when_rate_limit_has_no_headroom(tls_env, run_playbook, task_result, tmp_path,
                                                      restore_renew_endpoint):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps({"names": ["localhost"], "issued_at": endpoint_scan.iso(endpoint_scan.parse_now(None)),
                                          "serial": "%x" % (i + 1)}) + "\n" for i in range(5)))
    rc, out = run_playbook(PLAYBOOK, {"cert_check_reports_dir": str(tmp_path), "cert_check_acme_ledger": str(ledger),
                                      "cert_check_cert_manager": False, "cert_check_action": "renew"})
    assert rc != 0
    refused = task_result(out, "Refuse a renewal")
    assert refused["fits"] is False and "names [localhost]" in refused["problems"][0]
    assert _served(tls_env)["chain"][0]["issuer"].find("fournines lab") >= 0


def test_interrupted_renewal_is_resumed_without_a_new_issuance(tls_env, run_playbook, task_result, tmp_path,
                                                               restore_renew_endpoint):
    ledger = tmp_path / "ledger.jsonl"
    common = {"cert_check_reports_dir": str(tmp_path), "cert_check_acme_ledger": str(ledger),
              "cert_check_acme_work_dir": str(tmp_path / "acme"),
              "cert_check_cert_manager": False, "cert_check_action": "renew"}
    before = _served(tls_env)["certificate"]["serial"]
    # the server cannot be reloaded: the certificate is issued, installation fails and is rolled back
    rc, out = run_playbook(PLAYBOOK, dict(common, cert_check_renew_reload_command=["false"]))
    assert rc != 0
    assert _served(tls_env)["certificate"]["serial"] == before
    issued = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(issued) == 1

    rc, out = run_playbook(PLAYBOOK, common)
    assert rc == 0, out
    assert task_result(out, "Ask the ACME server for an order").get("skipped") is True
    after = _served(tls_env)
    assert after["certificate"]["serial"] == issued[0]["serial"] and after["status"] == "ok"
    assert len(ledger.read_text().splitlines()) == 1
    renew = task_result(out, "Record what the renewal did")["ansible_facts"]["__cert_check_renew_result"]
    assert renew["reason"] == "installed the certificate a previous run had issued"
