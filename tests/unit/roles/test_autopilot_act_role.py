"""roles/autopilot_act run for real against a stand-in runbook (a playbook that writes down the variables it got):
in a fleet each cluster's runbook charges that cluster's own downtime ledger, and a runbook lock still held by an
earlier run's runbook starts nothing and records nothing."""

import fcntl
import json
import os
import subprocess

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

STUB = [{"name": "Stand-in upgrade_cluster.yml", "hosts": "all", "gather_facts": False, "tasks": [
    {"name": "Write down what this run got", "ansible.builtin.copy": {
        "dest": "{{ cluster_preflight_reports_dir }}/got-{{ inventory_hostname }}.json",
        "content": "{{ {'slo': cluster_preflight_slo | default(None), 'run_id': cluster_preflight_run_id,"
                   " 'target': cluster_preflight_target_version} | to_json }}", "mode": "0644"}}]}]

DRIVER = [{"name": "Run autopilot_act", "hosts": "all", "gather_facts": False, "tasks": [
    {"name": "Act", "ansible.builtin.include_role": {"name": "fournines.runbooks.autopilot_act"}, "vars": {
        "autopilot_act_run_id": "autopilot-t1",
        "autopilot_act_decision": {"cluster": "{{ inventory_hostname }}", "component": "lke_kubernetes", "current": "1.34",
                                   "candidate": "1.35", "kind": "minor", "decision": "apply", "disruptive": True},
        "autopilot_act_playbook_dir": "{{ stub_dir }}", "autopilot_act_reports_dir": "{{ reports }}"}},
    {"name": "Keep the outcome", "ansible.builtin.copy": {
        "dest": "{{ reports }}/result-{{ inventory_hostname }}.json", "content": "{{ autopilot_act_result | to_json }}",
        "mode": "0644"}}]}]


def _run(tmp_path, inventory):
    stubs, reports = tmp_path / "playbooks", tmp_path / "reports"
    stubs.mkdir()
    (reports / "autopilot").mkdir(parents=True, exist_ok=True)
    (stubs / "upgrade_cluster.yml").write_text(yaml.safe_dump(STUB, sort_keys=False))
    (tmp_path / "driver.yml").write_text(yaml.safe_dump(DRIVER, sort_keys=False))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
                           "-e", json.dumps({"stub_dir": str(stubs), "reports": str(reports)}), str(tmp_path / "driver.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc, reports


def _host(**values):
    return dict({"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}, **values)


def _ledger(reports):
    path = reports / "autopilot" / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_each_cluster_of_a_fleet_charges_its_own_ledger(tmp_path):
    inventory = {"all": {"children": {"lke_clusters": {"hosts": {
        "staging": _host(lke_slo_ledger="/var/lib/fournines/downtime-staging.jsonl"),
        # the inventory's error-budget setting is kept; only its ledger becomes the cluster's own
        "production": _host(lke_slo_ledger="/var/lib/fournines/downtime.jsonl",
                            cluster_preflight_slo={"ledger": "/shared.jsonl", "objective": 99.9, "window": "7d"}),
        "bare": _host()}}}}}
    proc, reports = _run(tmp_path, inventory)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    got = {host: json.loads((reports / ("got-%s.json" % host)).read_text()) for host in ("staging", "production", "bare")}
    assert got["staging"]["slo"] == {"ledger": "/var/lib/fournines/downtime-staging.jsonl"}
    assert got["production"]["slo"] == {"ledger": "/var/lib/fournines/downtime.jsonl", "objective": 99.9, "window": "7d"}
    assert got["bare"]["slo"] is None  # no lke_slo_ledger: the runbook's own setting
    assert {h: g["target"] for h, g in got.items()} == {"staging": "1.35", "production": "1.35", "bare": "1.35"}
    assert sorted(e["cluster"] for e in _ledger(reports) if e["event"] == "applied") == ["bare", "production", "staging"]


def test_a_held_runbook_lock_starts_nothing_and_records_nothing(tmp_path):
    inventory = {"all": {"hosts": {"lab-lke": _host()}}}
    lock_dir = tmp_path / "reports" / "autopilot"
    lock_dir.mkdir(parents=True)
    with open(str(lock_dir / "runbook-lab-lke.lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # an earlier autopilot's runbook, still running
        proc, reports = _run(tmp_path, inventory)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads((reports / "result-lab-lke.json").read_text())
    assert (result["status"], str(result["rc"])) == ("failed", "75")
    assert result["error"].startswith("the runbook of an earlier autopilot run is still running on this cluster")
    assert "upgrade_cluster.yml did not run. Nothing was changed" in result["error"]
    assert not (reports / "got-lab-lke.json").exists()  # the runbook never ran
    assert _ledger(reports) == []  # no started, no failed: nothing ran


PG_STUB = [{"name": "Stand-in upgrade_postgres.yml (exit 0, its journal says where it got)", "hosts": "postgres",
            "gather_facts": False, "tasks": [
                {"name": "Journal folder", "ansible.builtin.file": {
                    "path": "{{ postgres_reports_dir }}/{{ postgres_run_id }}", "state": "directory", "mode": "0755"}},
                {"name": "Journal", "ansible.builtin.copy": {
                    "dest": "{{ postgres_reports_dir }}/{{ postgres_run_id }}/state.json", "mode": "0644",
                    "content": "{{ {'status': 'done', 'facts': {'flow': postgres_upgrade, 'version_after': stub_after}}"
                               " | to_json }}"}}]}]


_PG_INVENTORY = {"all": {"children": {"lke_clusters": {"hosts": {"lab-lke": _host()}},
                                      "postgres": {"hosts": {"pg-primary": _host()}},
                                      "postgres_operator": {"hosts": {"lab-cnpg": _host()}}}}}


def test_a_postgres_runbook_that_exits_0_below_the_patch_release_is_not_applied(tmp_path):
    """upgrade_postgres.yml can end 0 without moving (nothing to do, a target it was not given): the autopilot reads
    the version its journal ended on before it records applied."""
    driver = json.loads(json.dumps(DRIVER))
    driver[0]["hosts"] = "lke_clusters"
    driver[0]["tasks"][0]["vars"]["autopilot_act_decision"].update(component="postgres", current="15.17",
                                                                    candidate="15.18", kind="patch", backend="host")
    outcomes = {}
    for after in ("15.17", "15.18"):
        case = tmp_path / after
        (case / "playbooks").mkdir(parents=True)
        (case / "playbooks" / "upgrade_postgres.yml").write_text(yaml.safe_dump(PG_STUB, sort_keys=False))
        (case / "driver.yml").write_text(yaml.safe_dump(driver, sort_keys=False))
        # the runbook runs on the PostgreSQL hosts only (--limit postgres), never on another group's
        (case / "hosts.yml").write_text(yaml.safe_dump(_PG_INVENTORY))
        (case / "reports" / "autopilot").mkdir(parents=True)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(case / "hosts.yml"),
                               "-e", json.dumps({"stub_dir": str(case / "playbooks"), "reports": str(case / "reports"),
                                                 "autopilot_act_runbook_vars": {"stub_after": after}}),
                               str(case / "driver.yml")],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        outcomes[after] = (json.loads((case / "reports" / "result-lab-lke.json").read_text()),
                           [e["event"] for e in _ledger(case / "reports") if e["event"] != "decision"])
    result, events = outcomes["15.17"]
    assert result["status"] == "failed" and "still run 15.17, below 15.18" in result["error"], result
    assert events == ["started", "failed"]
    result, events = outcomes["15.18"]
    assert result["status"] == "applied" and events == ["started", "applied"], result


# A PostgreSQL major's safe part: the runbook without postgres_major_confirm (its canary trial, then it stops at the
# gate). The stand-in writes down how it was run and a report like the host backend's, stopped at its gate.
CANARY_STUB = [{"name": "Stand-in upgrade_postgres.yml (a major stopped at its gate)", "hosts": "postgres",
                "gather_facts": False, "tasks": [
                    {"name": "Run folder", "ansible.builtin.file": {
                        "path": "{{ postgres_reports_dir }}/{{ postgres_run_id }}", "state": "directory", "mode": "0755"},
                     "check_mode": False},
                    {"name": "How it was run", "ansible.builtin.copy": {
                        "dest": "{{ postgres_reports_dir }}/got-{{ inventory_hostname }}.json", "mode": "0644",
                        "content": "{{ {'flow': postgres_upgrade, 'confirm': postgres_major_confirm | default(None),"
                                   " 'check': ansible_check_mode, 'run_id': postgres_run_id} | to_json }}"},
                     "check_mode": False},
                    {"name": "Its report", "ansible.builtin.copy": {
                        "dest": "{{ postgres_reports_dir }}/{{ postgres_run_id }}/report.json", "mode": "0644",
                        "content": "{{ {'status': 'stopped-at-gate', 'facts': {'predicted_downtime_seconds': '41.25'},"
                                   " 'steps': [{'name': 'major-canary', 'status': 'done', 'details': {'upgrade_seconds': 12.5}},"
                                   " {'name': 'major-gate', 'status': 'skipped', 'details': {'reason': 'confirmation: missing'}}]}"
                                   " | to_json }}"},
                     "check_mode": False}]}]


def test_a_postgres_major_needing_approval_runs_its_canary_and_the_request_shows_its_figures(tmp_path):
    decision = {"cluster": "lab-lke", "component": "postgres", "current": "15.20", "candidate": "17.6", "kind": "major",
                "decision": "needs approval", "disruptive": True, "backend": "host", "request_id": "ap-lab-lke-postgres-17.6"}
    driver = json.loads(json.dumps(DRIVER))
    driver[0]["hosts"] = "lke_clusters"
    driver[0]["tasks"][0]["vars"].update(autopilot_act_decision={}, autopilot_act_approvals=[decision])
    driver[0]["tasks"][1]["when"] = "autopilot_act_result is defined"
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "upgrade_postgres.yml").write_text(yaml.safe_dump(CANARY_STUB, sort_keys=False))
    (tmp_path / "driver.yml").write_text(yaml.safe_dump(driver, sort_keys=False))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(_PG_INVENTORY))
    requests = tmp_path / "reports" / "autopilot" / "requests"
    requests.mkdir(parents=True)
    (requests / "ap-lab-lke-postgres-17.6.json").write_text(json.dumps(dict(
        decision, id=decision["request_id"], status="pending", evidence={})))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
                           "-e", json.dumps({"stub_dir": str(tmp_path / "playbooks"), "reports": str(tmp_path / "reports")}),
                           str(tmp_path / "driver.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    got = json.loads((tmp_path / "reports" / "got-pg-primary.json").read_text())
    # for real (no --check), the major flow, not confirmed: its canary trial runs and it stops at its gate
    assert (got["flow"], got["confirm"], got["check"]) == ("major", False, False), got
    assert got["run_id"].endswith("-canary")
    assert not (tmp_path / "reports" / "got-lab-cnpg.json").exists()  # the host backend's runbook: group postgres only
    evidence = json.loads((requests / "ap-lab-lke-postgres-17.6.json").read_text())["evidence"]
    assert evidence["safe_part"] == "canary trial (production not changed)" and evidence["plan_run_id"] == got["run_id"]
    trial = evidence["canary_trial"]
    assert (trial["canary"], trial["predicted_downtime_seconds"], trial["runbook_status"]) == ("passed", 41.25, "stopped-at-gate")
    assert trial["gate"] == "confirmation: missing"
    # nothing was carried out: no started, applied or failed line
    assert [e["event"] for e in _ledger(tmp_path / "reports")] == ["evidence"]
