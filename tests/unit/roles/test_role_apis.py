"""Every role's API is its arguments: each role has a README whose variable table is in step with
meta/argument_specs.yml, and a role given an invalid argument stops at the argument check, before
any of its own tasks runs (linux-system-roles' tests_invalid_input)."""

import glob
import importlib.util
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(REPO, "roles", "*", "meta")))


def _generator():
    spec = importlib.util.spec_from_file_location("gen_role_readmes", os.path.join(REPO, "lab", "gen-role-readmes.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_readme(role):
    assert os.path.isfile(os.path.join(REPO, "roles", role, "README.md")), "run lab/gen-role-readmes.py"


def test_readme_variable_tables_are_in_step_with_the_argument_specs():
    assert _generator().main(check=True) == [], "run .venv/bin/python lab/gen-role-readmes.py"


# (role, an invalid argument, what the refusal must name)
INVALID = [
    ("dns_ttl_lower", {"dns_ttl_lower_provider": "bind", "dns_ttl_lower_zone": "example.com",
                       "dns_ttl_lower_records": [{"name": "www", "type": "A"}]}, "dns_ttl_lower_provider"),
    ("dns_ttl_restore", {"dns_ttl_restore_verify_timeout": "soon", "dns_ttl_restore_zone": "example.com"},
     "dns_ttl_restore_verify_timeout"),
    ("cluster_upgrade", {"cluster_upgrade_wait_timeout": "soon"}, "cluster_upgrade_wait_timeout"),
    ("node_pool_rollout", {"node_pool_rollout_concurrency": "many"}, "node_pool_rollout_concurrency"),
    ("drill_observe", {"drill_observe_out_of_service": "sometimes"}, "drill_observe_out_of_service"),
]


@pytest.mark.parametrize("role, arguments, named", INVALID, ids=[case[0] for case in INVALID])
def test_an_invalid_argument_stops_the_role_before_its_tasks(tmp_path, role, arguments, named):
    playbook = tmp_path / "invalid.yml"
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:",
             "    - ansible.builtin.include_role:", "        name: fournines.runbooks.%s" % role, "      vars:"]
    lines += ["        %s: %r" % (key, value) for key, value in arguments.items()]
    playbook.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               lke_api_url="", LINODE_TOKEN="")
    result = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", "lke_api_url= lke_api_token= lke_kubeconfig=", str(playbook)],
        cwd=REPO, env=env, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    tasks = re.findall(r"^TASK \[fournines\.runbooks\.%s : (.*?)\]" % role, result.stdout, re.M)
    assert tasks and all(name.startswith("Validating arguments against arg spec") for name in tasks), output
    assert named in output, output
