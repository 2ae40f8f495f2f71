"""The default reports folder: the checkout's reports/ from a checkout, never inside an installed
collection, the same folder whatever the working directory (a re-run must find its journal)."""

import json
import os
import subprocess

from ansible_collections.fournines.runbooks.plugins.lookup.reports_dir import default_reports_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_a_checkout_keeps_its_own_reports_folder(tmp_path):
    (tmp_path / "galaxy.yml").write_text("namespace: fournines\n")
    (tmp_path / "playbooks").mkdir()
    assert default_reports_dir(str(tmp_path / "playbooks"), {"HOME": "/home/u"}) == str(tmp_path / "reports")


def test_an_installed_collection_reports_to_the_users_state_folder(tmp_path):
    playbooks = tmp_path / "ansible_collections" / "fournines" / "runbooks" / "playbooks"
    playbooks.mkdir(parents=True)
    (playbooks.parent / "MANIFEST.json").write_text("{}")
    assert default_reports_dir(str(playbooks), {"HOME": "/home/u"}) == "/home/u/.local/state/fournines/reports"
    assert default_reports_dir(str(playbooks), {"HOME": "/home/u", "XDG_STATE_HOME": "/var/state"}) == \
        "/var/state/fournines/reports"


def test_the_environment_variable_wins_everywhere(tmp_path):
    (tmp_path / "galaxy.yml").write_text("namespace: fournines\n")
    env = {"HOME": "/home/u", "FOURNINES_REPORTS_DIR": "/srv/runs"}
    assert default_reports_dir(str(tmp_path / "playbooks"), env) == "/srv/runs"
    assert default_reports_dir(None, env) == "/srv/runs"


def test_the_lookup_in_a_real_play_ignores_the_working_directory(tmp_path):
    """ansible-playbook with a playbook of the user's own (no checkout above it), run from two working
    directories: the same folder under HOME both times, and the joined ledger path."""
    playbook = tmp_path / "project" / "site.yml"
    playbook.parent.mkdir()
    out = tmp_path / "out.json"
    playbook.write_text("""---
- name: Where reports go
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the defaults
      ansible.builtin.copy:
        content: "{{ {'dir': lookup('fournines.runbooks.reports_dir'),
                      'ledger': lookup('fournines.runbooks.reports_dir', 'downtime.jsonl')} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
""")
    env = {k: v for k, v in os.environ.items() if k not in ("FOURNINES_REPORTS_DIR", "XDG_STATE_HOME")}
    env.update(HOME=str(tmp_path / "home"), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    (tmp_path / "home").mkdir()
    seen = []
    for cwd in (tmp_path, playbook.parent):
        proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", str(playbook),
                               "-e", "out=%s" % out, "-e", "ansible_python_interpreter=" + os.path.join(REPO, ".venv", "bin", "python")], cwd=str(cwd), env=env, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen.append(json.loads(out.read_text()))
    want = str(tmp_path / "home" / ".local" / "state" / "fournines" / "reports")
    assert seen == [{"dir": want, "ledger": want + "/downtime.jsonl"}] * 2
