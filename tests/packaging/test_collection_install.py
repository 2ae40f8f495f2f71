"""The collection builds, installs offline into a clean collections path, and the installed copy
(not the checkout) runs a playbook."""

import json
import os
import re
import subprocess
import tarfile

import pytest

from packaging_helpers import BIN, REPO, run

SITE_PACKAGES = os.path.join(REPO, ".venv", "lib", "python3.11", "site-packages")
LAB_INVENTORY = os.path.join(REPO, "inventories", "lab")
# The runbooks that must answer to `ansible-playbook fournines.runbooks.<name>` (no hyphens: a
# playbook's fully qualified name cannot hold one); every other runbook shipped is run by FQCN too.
# Their hyphenated file names (docs, AWX job templates, users' commands) are aliases that import them.
RUNBOOKS = ("upgrade_cluster", "upgrade_postgres", "dns_migration", "lower_dns_ttl", "restore_dns_ttl",
            "check_certificates", "node_failure_drill", "awx_configure")


@pytest.fixture(scope="module")
def installed(tmp_path_factory, tarball):
    path = tmp_path_factory.mktemp("collections")
    work = tmp_path_factory.mktemp("install")
    # --offline: Galaxy is not asked; --no-deps: the dependencies come from the ansible package.
    # Outside the checkout, or ansible-galaxy finds the checkout's copy and installs nothing.
    result = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
                  "-p", str(path), tarball], cwd=str(work), env=_clean_env(work, path))
    assert "was installed successfully" in result.stdout, result.stdout
    assert (path / "ansible_collections" / "fournines" / "runbooks" / "MANIFEST.json").is_file()
    return path


def _clean_env(tmp_path, collections):
    """Environment with no trace of the checkout: an empty ansible.cfg, cwd outside the repo."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH="%s:%s" % (collections, SITE_PACKAGES),
               ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_ROLES_PATH=str(tmp_path / "no-roles"))
    return env


def test_tarball_ships_the_collection_but_not_the_lab(tarball, galaxy):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["version"] == galaxy["version"]
    assert manifest["collection_info"]["dependencies"] == galaxy["dependencies"]
    for shipped in ("plugins/modules/slo_budget_info.py", "roles/awx_config/defaults/main.yml",
                    "playbooks/awx-configure.yml", "meta/runtime.yml", "bindep.txt"):
        assert shipped in names, shipped
    for kept_out in ("lab", "tests", "benchmarks", "molecule", "requirements", ".venv", "reports"):
        assert not [n for n in names if n == kept_out or n.startswith(kept_out + "/")], kept_out


def test_installed_copy_runs_a_playbook(installed, tmp_path):
    ledger = tmp_path / "downtime.jsonl"
    ledger.write_text('{"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z", "tags": ["drill"]}\n')
    playbook = tmp_path / "smoke.yml"
    playbook.write_text("""---
- name: Smoke test of the installed collection
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Budget of four nines over 30 days ending after the outage
      fournines.runbooks.slo_budget_info:
        ledger: %s
        objective: 99.99
        window: 30d
        now: "2026-11-27T00:00:00Z"
      register: budget
    - name: Hand the figures to the test
      ansible.builtin.copy:
        content: "{{ budget.budget | to_json }}"
        dest: %s
        mode: "0644"
""" % (ledger, tmp_path / "budget.json"))
    env = _clean_env(tmp_path, installed)
    doc = run([os.path.join(BIN, "ansible-doc"), "fournines.runbooks.slo_budget_info"], cwd=str(tmp_path), env=env)
    assert str(installed) in doc.stdout, "module not resolved from the installed copy:\n" + doc.stdout[:500]
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook),
                  "-e", "ansible_python_interpreter=" + os.path.join(BIN, "python")], cwd=str(tmp_path), env=env)
    assert "failed=0" in result.stdout
    figures = json.loads((tmp_path / "budget.json").read_text())
    assert figures["consumed_seconds"] == 60.0
    assert abs(figures["allowed_seconds"] - 259.2) < 0.01


def _installed_playbooks(installed):
    return installed / "ansible_collections" / "fournines" / "runbooks" / "playbooks"


def _shipped_playbooks(tarball):
    """(runbooks, aliases): the file names under playbooks/ without .yml, with and without hyphens."""
    with tarfile.open(tarball) as tar:
        names = [n[len("playbooks/"):-len(".yml")] for n in tar.getnames()
                 if re.match(r"^playbooks/[^/]+\.yml$", n)]
    return sorted(n for n in names if "-" not in n), sorted(n for n in names if "-" in n)


def test_tarball_ships_each_runbook_under_its_fqcn_name_and_its_hyphenated_alias(tarball):
    runbooks, aliases = _shipped_playbooks(tarball)
    missing = [r for r in RUNBOOKS if r not in runbooks]
    assert not missing, "no playbooks/<name>.yml for %s (shipped: %s)" % (missing, runbooks)
    assert all(r.replace("_", "-") in aliases for r in RUNBOOKS), aliases
    assert all(a.replace("-", "_") in runbooks for a in aliases), "aliases without a runbook: %s" % aliases


def test_every_runbook_runs_by_fqcn_from_the_installed_copy(installed, tarball, tmp_path):
    """`ansible-playbook fournines.runbooks.<name>` finds each runbook in the installed collection and
    loads it whole (plays, roles, imported files): --list-tasks of all of them in one run."""
    runbooks, dummy = _shipped_playbooks(tarball)
    env = _clean_env(tmp_path, installed)
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", LAB_INVENTORY, "--list-tasks"]
                 + ["fournines.runbooks." + name for name in runbooks], cwd=str(tmp_path), env=env)
    listed = re.findall(r"^playbook: (.+)$", result.stdout, re.M)
    assert listed == [str(_installed_playbooks(installed) / (name + ".yml")) for name in runbooks], result.stdout
    plays = re.findall(r"^\s+play #\d+ \(([^)]*)\): (.+?)\s+TAGS:", result.stdout, re.M)
    assert len(plays) >= len(runbooks), result.stdout
    assert ("lke_clusters", "Upgrade the LKE cluster") in plays, plays


def test_hyphenated_paths_still_run_from_the_installed_copy(installed, tarball, tmp_path):
    """playbooks/upgrade-cluster.yml and the other documented names import their runbook."""
    dummy, aliases = _shipped_playbooks(tarball)
    env = _clean_env(tmp_path, installed)
    paths = [str(_installed_playbooks(installed) / (name + ".yml")) for name in aliases]
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", LAB_INVENTORY, "--list-tasks"] + paths,
                 cwd=str(tmp_path), env=env)
    assert re.findall(r"^playbook: (.+)$", result.stdout, re.M) == paths
    assert "Upgrade the LKE cluster" in result.stdout


def test_installed_upgrade_cluster_plans_against_the_lab(installed, tmp_path):
    """A real `--check` run of `fournines.runbooks.upgrade_cluster` from the installed copy against
    the lab's cluster (Kubernetes, the Linode simulator, the edge): the plan, nothing changed."""
    status = subprocess.run([os.path.join(REPO, "lab", "status"), "k8s", "linode_sim", "edge"],
                            capture_output=True, text=True, check=False, cwd=REPO)
    if status.returncode != 0:
        pytest.skip("the lab is not up (lab/up k8s linode_sim edge):\n" + status.stdout[-1000:])
    env = _clean_env(tmp_path, installed)
    reports = tmp_path / "reports"
    variables = {"cluster_preflight_reports_dir": str(reports),
                 "cluster_preflight_slo": {"ledger": str(reports / "downtime.jsonl"), "objective": 99.99,
                                           "window": "30d"}}
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", LAB_INVENTORY, "fournines.runbooks.upgrade_cluster",
                  "--check", "-e", json.dumps(variables)], cwd=str(tmp_path), env=env)
    assert re.search(r"^lab-lke\s+:.*\bchanged=0\s.*\bfailed=0\s", result.stdout, re.M), result.stdout[-3000:]
    assert re.search(r"Plan: Kubernetes \d+\.\d+ -> \d+\.\d+", result.stdout), result.stdout[-3000:]
    assert "TASK [fournines.runbooks.cluster_preflight : " in result.stdout
    assert not reports.exists(), "--check wrote %s" % sorted(os.listdir(reports))


def test_installed_runbook_reports_outside_the_collection(installed, tmp_path):
    """A real run of `fournines.runbooks.check_certificates` from the installed copy, with nothing to
    scan and no reports folder given: the run folder lands in the user's state folder
    (~/.local/state/fournines/reports), not under the installed collection ({{ playbook_dir }}/../reports
    was inside it); FOURNINES_REPORTS_DIR moves it."""
    home = tmp_path / "home"
    home.mkdir()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"tls_scanners": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": os.path.join(BIN, "python")}}}}))
    env = _clean_env(tmp_path, installed)
    env = {k: v for k, v in env.items() if k not in ("FOURNINES_REPORTS_DIR", "XDG_STATE_HOME")}
    env["HOME"] = str(home)
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "fournines.runbooks.check_certificates",
            "-e", json.dumps({"cert_check_endpoints": [], "cert_check_cert_manager": False})]
    run(argv, cwd=str(tmp_path), env=env)
    collection = installed / "ansible_collections" / "fournines" / "runbooks"
    assert not (collection / "reports").exists() and not (collection.parent / "reports").exists()
    state = home / ".local" / "state" / "fournines" / "reports"
    runs = sorted(p.name for p in state.iterdir() if p.is_dir()) if state.is_dir() else []
    assert len(runs) == 1 and (state / runs[0] / "report.md").is_file(), runs
    elsewhere = tmp_path / "elsewhere"
    run(argv, cwd=str(tmp_path), env=dict(env, FOURNINES_REPORTS_DIR=str(elsewhere)))
    assert [p for p in elsewhere.iterdir() if p.is_dir() and (p / "report.md").is_file()]
    assert len([p for p in state.iterdir() if p.is_dir()]) == 1
