"""The update autopilot in AWX: a nightly workflow whose approval node a person answers.

autopilot (decide, apply what is automatic, publish a request) -> approval (expires) ->
approved: "autopilot approve" | denied or expired: "autopilot deny"; every job runs playbooks/autopilot.yml.
`problems()` is the check; the tests prove it passes on the declaration and fails on a broken one.
"""

import copy
import os

import pytest

import awx_model as m

PLAYBOOK = "playbooks/autopilot.yml"
WORKFLOW = "fournines: autopilot"
# node identifier -> (job template, the answer it gives) ; the approval node is checked on its own
JOBS = {"autopilot": ("fournines: autopilot", None),
        "apply": ("fournines: autopilot approve", "approve"),
        "deny": ("fournines: autopilot deny", "deny")}
EDGES = {"autopilot": {"success_nodes": ["approval"]},
         "approval": {"success_nodes": ["apply"], "failure_nodes": ["deny"]},
         "apply": {}, "deny": {}}
DAY = 24 * 3600


def problems(config):
    """Everything wrong with the autopilot's AWX declaration in `config` (the role defaults), as sentences."""
    found = []
    templates = {jt["name"]: jt for jt in config["awx_config_job_templates"]}
    workflows = [w for w in config["awx_config_workflows"] if w["name"] == WORKFLOW]
    if len(workflows) != 1:
        return ["no single workflow %r" % WORKFLOW]
    nodes = {n["identifier"]: n for n in workflows[0]["workflow_nodes"]}
    missing = sorted(set(EDGES) - set(nodes))
    extra = sorted(set(nodes) - set(EDGES))
    if missing:
        found.append("workflow nodes missing: %s" % ", ".join(missing))
    if extra:
        found.append("unexpected workflow nodes: %s" % ", ".join(extra))
    for ident, node in nodes.items():
        related = node.get("related") or {}
        got = {kind: sorted(e["identifier"] for e in related.get(kind) or []) for kind in
               ("success_nodes", "failure_nodes", "always_nodes") if related.get(kind)}
        want = {kind: sorted(ids) for kind, ids in EDGES.get(ident, {}).items()}
        if ident in EDGES and got != want:
            found.append("node %s: edges %s, expected %s" % (ident, got, want))
    approval = nodes.get("approval")
    if approval is not None:
        ujt = approval["unified_job_template"]
        if ujt.get("type") != "workflow_approval":
            found.append("node approval is a %s, not a workflow_approval" % ujt.get("type"))
        timeout = int(m.resolve_value(ujt.get("timeout", 0), config) or 0)
        if not 0 < timeout < DAY:
            found.append("the approval node's timeout %s s is not between 0 and a day (it must expire before the "
                         "next nightly run)" % timeout)
    for ident, (name, answer) in JOBS.items():
        node = nodes.get(ident)
        if node is None:
            continue
        ujt = node["unified_job_template"]
        if ujt.get("type") != "job_template" or ujt.get("name") != name:
            found.append("node %s runs %s %r, expected job template %r" % (ident, ujt.get("type"), ujt.get("name"), name))
            continue
        jt = templates.get(name)
        if jt is None:
            found.append("job template %r is not declared" % name)
            continue
        if jt["playbook"] != PLAYBOOK:
            found.append("job template %r runs %s, not %s" % (name, jt["playbook"], PLAYBOOK))
        if (jt.get("extra_vars") or {}).get("autopilot_workflow_answer") != answer:
            found.append("job template %r answers %r, expected %r" % (
                name, (jt.get("extra_vars") or {}).get("autopilot_workflow_answer"), answer))
    nightly = [s for s in config["awx_config_schedules"] if s["unified_job_template"] == WORKFLOW]
    if len(nightly) != 1 or nightly[0]["expect"].get("every") != "day":
        found.append("no nightly schedule of the workflow %r" % WORKFLOW)
    return found


def test_the_declaration_has_the_autopilot_workflow():
    assert problems(m.awx_config()) == []


def _broken(change):
    config = copy.deepcopy(m.awx_config())
    change(config)
    return problems(config)


def _workflow(config):
    return next(w for w in config["awx_config_workflows"] if w["name"] == WORKFLOW)


def _template(config, name):
    return next(jt for jt in config["awx_config_job_templates"] if jt["name"] == name)


@pytest.mark.parametrize("change, words", [
    (lambda c: _workflow(c)["workflow_nodes"].pop(1), "workflow nodes missing: approval"),
    (lambda c: _workflow(c)["workflow_nodes"].pop(3), "workflow nodes missing: deny"),
    (lambda c: _template(c, "fournines: autopilot approve").update(playbook="playbooks/autopilot-apply.yml"),
     "runs playbooks/autopilot-apply.yml, not playbooks/autopilot.yml"),
    (lambda c: _template(c, "fournines: autopilot").update(playbook="playbooks/upgrade-cluster.yml"),
     "runs playbooks/upgrade-cluster.yml"),
    (lambda c: _workflow(c)["workflow_nodes"][1]["related"].pop("failure_nodes"), "node approval: edges"),
    (lambda c: _workflow(c)["workflow_nodes"][1]["unified_job_template"].update(timeout=0), "timeout 0 s"),
    (lambda c: _workflow(c)["workflow_nodes"][1]["unified_job_template"].update(timeout=3 * 86400), "timeout 259200 s"),
    (lambda c: _template(c, "fournines: autopilot deny").update(extra_vars={}), "answers None, expected 'deny'"),
    (lambda c: c["awx_config_schedules"].pop(), "no nightly schedule"),
    (lambda c: c["awx_config_job_templates"].remove(_template(c, "fournines: autopilot deny")),
     "job template 'fournines: autopilot deny' is not declared"),
])
def test_a_broken_declaration_is_caught(change, words):
    found = _broken(change)
    assert any(words in problem for problem in found), found


def test_the_answer_templates_variable_is_read_by_the_playbook():
    """What the workflow's answer templates set is read by playbooks/autopilot.yml (or its roles)."""
    if not os.path.isfile(os.path.join(m.REPO, PLAYBOOK)):
        pytest.skip("%s is not there yet" % PLAYBOOK)
    reads = m.PlaybookGraph(PLAYBOOK).reads()
    for name, _answer in JOBS.values():
        for variable in m.job_template(name).get("extra_vars") or {}:
            assert variable in reads, "%s sets %s, which %s never reads" % (name, variable, PLAYBOOK)
