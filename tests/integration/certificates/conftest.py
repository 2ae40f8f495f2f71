"""Fixtures for the certificate checks against the running lab (lab/tls, lab/k8s)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "lab"))
import labenv  # noqa: E402

BIN = os.path.join(REPO, ".venv", "bin")


@pytest.fixture(scope="session")
def tls_env():
    env = labenv.component_env("tls")
    if not env:
        pytest.fail("the TLS lab is not running (no .lab/tls/env): run lab/up")
    return env


def _ansible_env(extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def run_module():
    """Run one module of the collection through Ansible; returns its result dict."""
    def run(module, args, check=False):
        cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", "fournines.runbooks.%s" % module,
               "-a", json.dumps(args), "-e", "ansible_python_interpreter=%s" % os.path.join(BIN, "python")]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, cwd=REPO, env=_ansible_env(), capture_output=True, text=True, timeout=300)
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("no JSON from ansible (rc %s): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
        return out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return run


@pytest.fixture(scope="session")
def run_playbook():
    """Run a playbook against the lab inventory; returns (rc, parsed json callback output)."""
    def run(playbook, extra_vars=None, check=False, limit="tls_scanners"):
        cmd = [os.path.join(BIN, "ansible-playbook"), playbook, "--limit", limit]
        for key, value in (extra_vars or {}).items():
            cmd += ["-e", json.dumps({key: value})]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, cwd=REPO, env=_ansible_env(), capture_output=True, text=True, timeout=600)
        try:
            return proc.returncode, json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("no JSON from ansible-playbook (rc %s): %s %s"
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return run


def _task_result(output, name_part, host="lab-scanner"):
    """The result of the last task whose name contains ``name_part``."""
    found = None
    for play in output["plays"]:
        for task in play["tasks"]:
            if name_part in task["task"]["name"] and host in task["hosts"]:
                found = task["hosts"][host]
    if found is None:
        raise AssertionError("no task named like %r ran" % name_part)
    return found


@pytest.fixture(scope="session")
def task_result():
    return _task_result


@pytest.fixture
def restore_renew_endpoint():
    """Put the seeded certificate back on the renew endpoint afterwards (next test starts seeded)."""
    yield
    subprocess.run([os.path.join(REPO, "lab", "tls", "reset-renew")], check=True, cwd=REPO)
