"""The maintenance workflow, the credential type and the playbook's AWX modules hang together."""

import json
import os
import subprocess

import pytest

import awx_model as m

CONFIG = m.awx_config()
WORKFLOWS = CONFIG["awx_config_workflows"]


# Workflows with an approval node branch on the person's answer (tests/unit/awx/test_awx_autopilot.py);
# the others are one chain.
CHAINS = [w for w in WORKFLOWS if not any(n["unified_job_template"]["type"] == "workflow_approval"
                                           for n in w["workflow_nodes"])]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w["name"] for w in WORKFLOWS])
def test_nodes_reference_existing_job_templates(workflow):
    names = {jt["name"] for jt in CONFIG["awx_config_job_templates"]}
    for node in workflow["workflow_nodes"]:
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            # an approval node is created with the workflow; it needs a name and must expire
            assert ujt.get("name") and ujt.get("description"), node["identifier"]
            assert int(m.resolve_value(ujt["timeout"], CONFIG)) > 0, "%s never expires" % node["identifier"]
            continue
        assert ujt["type"] == "job_template", node["identifier"]
        assert ujt["name"] in names, "%s runs unknown job template %r" % (node["identifier"], ujt["name"])


@pytest.mark.parametrize("workflow", CHAINS, ids=[w["name"] for w in CHAINS])
def test_workflow_is_one_chain_that_stops_on_failure(workflow):
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    assert len(nodes) == len(workflow["workflow_nodes"]), "duplicate identifiers"
    children = {}
    for ident, node in nodes.items():
        related = node.get("related") or {}
        # a failure or always edge would carry on after a failed step
        assert not related.get("failure_nodes") and not related.get("always_nodes"), ident
        children[ident] = [edge["identifier"] for edge in related.get("success_nodes") or []]
        for child in children[ident]:
            assert child in nodes, "%s points to unknown node %s" % (ident, child)
    parents = [c for kids in children.values() for c in kids]
    roots = [ident for ident in nodes if ident not in parents]
    assert len(roots) == 1, "one start node expected, got %s" % roots
    order, current = [], roots[0]
    while current:
        assert current not in order, "cycle at %s" % current
        order.append(current)
        assert len(children[current]) <= 1, "%s branches" % current
        current = children[current][0] if children[current] else None
    assert order == list(nodes), "every node on the one chain, in the declared order"


def test_maintenance_sequence_order():
    """certificate check -> cluster upgrade -> PostgreSQL minor, as the issue asks."""
    workflow = next(w for w in WORKFLOWS if w["name"] == "fournines: maintenance sequence")
    playbooks = [m.job_template(n["unified_job_template"]["name"])["playbook"] for n in workflow["workflow_nodes"]]
    assert playbooks == ["playbooks/check-certificates.yml", "playbooks/upgrade-cluster.yml",
                         "playbooks/upgrade-postgres.yml"]
    assert workflow["workflow_nodes"][-1]["extra_data"]["postgres_upgrade"] == "minor"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w["name"] for w in WORKFLOWS])
def test_workflow_notifies_on_failure(workflow):
    declared = {n["name"] for n in CONFIG["awx_config_notification_templates"]}
    assert workflow["notification_templates_error"], "a failed maintenance must notify someone"
    for name in workflow["notification_templates_error"] + workflow.get("notification_templates_success", []):
        assert name in declared


def test_credential_type_injects_every_input_as_env_or_file_only():
    ctype = CONFIG["awx_config_credential_type"]
    fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
    injectors = ctype["injectors"]
    # extra_vars injection would put the secrets into the job's variables (and its event data)
    assert set(injectors) <= {"env", "file"}, "inject secrets through env/file only, not %s" % set(injectors)
    text = json.dumps(injectors)
    for ident in fields:
        assert "{{ %s" % ident in text, "input %s is never injected" % ident
    for secret in (i for i, f in fields.items() if f.get("secret")):
        assert secret in ("linode_token", "kubeconfig"), secret
    assert injectors["env"]["K8S_AUTH_KUBECONFIG"] == "{{ tower.filename }}"
    assert set(ctype["inputs"]["required"]) <= set(fields)


def test_awx_configure_syntax_check():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(m.REPO, "ansible.cfg"))
    result = subprocess.run(
        [os.path.join(m.REPO, ".venv", "bin", "ansible-playbook"), "--syntax-check", "playbooks/awx-configure.yml"],
        cwd=m.REPO, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_role_argument_specs_cover_every_default():
    specs = m.load_yaml(os.path.join(m.ROLE_DIR, "awx_config", "meta", "argument_specs.yml"))
    options = set(specs["argument_specs"]["main"]["options"])
    assert set(CONFIG) == options, set(CONFIG) ^ options
