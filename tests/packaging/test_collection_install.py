"""The collection builds, installs offline into a clean collections path, and the installed copy
(not the checkout) runs a playbook."""

import json
import os
import tarfile

import pytest

from packaging_helpers import BIN, REPO, run

SITE_PACKAGES = os.path.join(REPO, ".venv", "lib", "python3.11", "site-packages")


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
