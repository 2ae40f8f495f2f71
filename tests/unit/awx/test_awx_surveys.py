"""Job templates and surveys agree with the playbooks they run.

The runbooks are discovered from playbooks/ and roles/; a job template whose playbook has not
landed yet is skipped with the file it waits for.
"""

import os
import re

import pytest

import awx_model as m

JOB_TEMPLATES = m.job_templates()
JT_IDS = [jt["name"] for jt in JOB_TEMPLATES]


def _graph(jt):
    if not os.path.isfile(os.path.join(m.REPO, jt["playbook"])):
        pytest.skip("%s is not there yet" % jt["playbook"])
    return m.PlaybookGraph(jt["playbook"])


def test_every_runbook_has_a_job_template():
    covered = {m.resolve_playbook(jt["playbook"]) for jt in JOB_TEMPLATES}
    missing = [p for p in m.runbook_playbooks() if p not in covered]
    assert not missing, "playbooks without an AWX job template in %s: %s" % (m.AWX_DEFAULTS, missing)


def test_job_template_names_are_unique():
    assert len(JT_IDS) == len(set(JT_IDS))


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_survey_variables_are_read_by_the_playbook(jt):
    graph = _graph(jt)
    reads = graph.reads()
    unread = [q["variable"] for q in m.survey_questions(jt) if q["variable"] not in reads]
    assert not unread, (
        "%s: survey variables that %s never reads (not in any expression of the playbook, its roles "
        "or included tasks): %s" % (jt["name"], jt["playbook"], unread))


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_extra_data_of_schedules_and_nodes_are_survey_answers(jt):
    """AWX refuses schedule/workflow-node extra_data that is neither a survey answer nor allowed
    by ask_variables_on_launch (which the role keeps off)."""
    config = m.awx_config()
    questions = {q["variable"]: q for q in m.survey_questions(jt)}
    uses = [s for s in config["awx_config_schedules"] if s["unified_job_template"] == jt["name"]]
    for workflow in config["awx_config_workflows"]:
        uses += [n for n in workflow["workflow_nodes"] if n["unified_job_template"]["name"] == jt["name"]]
    for use in uses:
        for key, value in (use.get("extra_data") or {}).items():
            assert key in questions, "%s passes %s, which is no survey question of %s" % (
                use.get("name") or use.get("identifier"), key, jt["name"])
            _assert_valid_answer(questions[key], value)


def _assert_valid_answer(question, value):
    kind = m.SURVEY_TYPES[question["type"]]
    assert isinstance(value, kind), "%s: %r is not a %s answer" % (question["variable"], value, question["type"])
    if question["type"] == "multiplechoice":
        assert value in question["choices"], "%s: %r not in %s" % (question["variable"], value, question["choices"])
    if question["type"] == "multiselect":
        assert set(value) <= set(question["choices"])
    if kind in (int, float):
        assert question.get("min", value) <= value <= question.get("max", value), question["variable"]
    if kind is str and question["type"] != "multiplechoice":
        assert question.get("min", 0) <= len(value) <= question.get("max", len(value)), question["variable"]


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_survey_questions_are_valid_awx_questions(jt):
    variables = [q["variable"] for q in m.survey_questions(jt)]
    assert len(variables) == len(set(variables)), "duplicate survey variables in %s" % jt["name"]
    for question in m.survey_questions(jt):
        assert question["type"] in m.SURVEY_TYPES, question
        assert question["variable"].isidentifier(), question
        assert question.get("question_name"), question
        if question["type"] in ("multiplechoice", "multiselect"):
            assert question.get("choices"), question
        if "default" in question:
            _assert_valid_answer(question, question["default"])
        if not question.get("required"):
            # AWX sends a default even when nobody answers: an empty string would override the
            # inventory's value with nothing. Optional questions must have no default instead.
            assert question.get("default", None) not in ("", []), (
                "%s: optional question %s has an empty default that would override the inventory"
                % (jt["name"], question["variable"]))


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_survey_answer_types_fit_the_role_options(jt):
    """A survey answer that lands directly in a role option must have a type the option accepts
    (AWX answers are strings unless the question is integer, float or multiselect)."""
    graph = _graph(jt)
    problems = []
    for role, options in graph.argument_specs().items():
        for question in m.survey_questions(jt):
            spec = options.get(question["variable"])
            if spec is None:
                continue
            kind = m.SURVEY_TYPES[question["type"]]
            if spec.get("type", "str") not in m.ACCEPTS[kind] and not (
                    spec.get("type") == "bool" and question.get("choices") in (["false", "true"], ["true", "false"])):
                problems.append("%s is %s in %s but the survey answers a %s" % (
                    question["variable"], spec.get("type", "str"), os.path.basename(role), question["type"]))
            choices = spec.get("choices")
            if choices and question["type"] == "multiplechoice":
                extra = set(question["choices"]) - {str(c) for c in choices}
                if extra:
                    problems.append("%s offers %s that %s refuses" % (question["variable"], extra, os.path.basename(role)))
    assert not problems, "%s: %s" % (jt["name"], "; ".join(problems))


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_playbook_never_prompts(jt):
    graph = _graph(jt)
    assert not graph.vars_prompt, "%s prompts (vars_prompt); AWX jobs cannot answer prompts" % jt["playbook"]


def _inventory_cases():
    config = m.awx_config()
    for jt in JOB_TEMPLATES:
        for inventory in config["awx_config_inventories"]:
            yield pytest.param(jt, inventory, id="%s@%s" % (jt["name"], inventory["name"]))


@pytest.mark.parametrize("jt, inventory", list(_inventory_cases()))
def test_required_variables_have_an_answer_or_a_default(jt, inventory):
    """Every option the playbook's roles need (required in argument_specs, or needed by the value
    of a role default or play var) gets a value from the survey, the job template, the playbook,
    the role defaults or the inventory, with the survey left at its defaults."""
    graph = _graph(jt)
    if not os.path.isfile(os.path.join(m.REPO, inventory["source_path"])):
        pytest.skip("%s is not there yet" % inventory["source_path"])
    sources = {
        "survey": m.survey_answers(jt),
        "job template extra_vars": jt.get("extra_vars") or {},
        "play vars": graph.play_vars,
        "inventory %s" % inventory["source_path"]: m.inventory_vars(inventory["source_path"], graph.hosts),
        "role defaults": graph.role_defaults(),
    }
    for role in graph.roles:
        role_vars = os.path.join(role, "vars", "main.yml")
        if os.path.isfile(role_vars):
            sources.setdefault("role vars", {}).update(m.load_yaml(role_vars) or {})
    problems = []
    for role, options in graph.argument_specs().items():
        for option, spec in options.items():
            present = any(option in table for table in sources.values())
            if not spec.get("required") and not present:
                continue
            why = m.unresolved(option, sources, graph.produced)
            if why:
                problems.append("%s (%s): %s" % (option, os.path.basename(role), why))
    for name in graph.play_needs():
        why = m.unresolved(name, sources, graph.produced)
        if why:
            problems.append("%s (play module_defaults/environment): %s" % (name, why))
    assert not problems, "%s with %s:\n  %s" % (jt["name"], inventory["name"], "\n  ".join(problems))


def test_the_job_templates_inventories_exist():
    config = m.awx_config()
    declared = {inv["name"]: inv for inv in config["awx_config_inventories"]}
    for jt in JOB_TEMPLATES:
        assert jt["inventory"] in declared, "%s uses undeclared inventory %s" % (jt["name"], jt["inventory"])
    for inv in declared.values():
        assert os.path.isfile(os.path.join(m.REPO, inv["source_path"])), (
            "inventory source %s (AWX inventory %r) does not exist" % (inv["source_path"], inv["name"]))


def test_job_templates_use_declared_credentials():
    config = m.awx_config()
    for jt in JOB_TEMPLATES:
        for credential in jt["credentials"]:
            assert credential == config["awx_config_credential_name"], (jt["name"], credential)


def _set_stats_data(node, found):
    if isinstance(node, dict):
        for key in ("set_stats", "ansible.builtin.set_stats"):
            if isinstance(node.get(key), dict):
                found.update(node[key].get("data") or {})
        for value in node.values():
            _set_stats_data(value, found)
    elif isinstance(node, list):
        for item in node:
            _set_stats_data(item, found)
    return found


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_playbook_publishes_the_documented_artifacts(jt):
    """The set_stats key and fields the job template documents are what the playbook publishes
    (tests/integration/awx_runner checks their values on real runs)."""
    graph = _graph(jt)
    key = "fournines_" + os.path.basename(jt["playbook"])[:-len(".yml")].replace("-", "_")
    published = {}
    for path in graph.files:
        if path.endswith((".yml", ".yaml")) and "/defaults/" not in path:
            _set_stats_data(m.load_yaml(path), published)
    assert key in published, "%s publishes no set_stats %r (AWX job artifacts)" % (jt["playbook"], key)
    missing = [field for field in jt["artifacts"] if field not in (published[key] or {})]
    assert not missing, "%s: set_stats %s lacks %s" % (jt["playbook"], key, missing)


def _fed_options(graph, variable):
    """Role options a survey variable reaches: the option itself, or an option whose role default is that
    runbook variable (``"{{ upgrade_cluster_strategy | default('surge') }}"``). {option: (role, spec, default)}."""
    defaults = graph.role_defaults()
    fed = {}
    for role, options in graph.argument_specs().items():
        for option, spec in options.items():
            value = defaults.get(option)
            reads = m.identifiers(" ".join(m._jinja_blocks(value))) if isinstance(value, str) else []
            if option == variable or list(reads) == [variable]:
                literal = re.search(r"default\(\s*['\"]([^'\"]*)['\"]\s*\)", value or "") if isinstance(value, str) else None
                fed[option] = (os.path.basename(role), spec, literal.group(1) if literal else spec.get("default"))
    return fed


def _choice_problems(jt, graph):
    problems = []
    for question in m.survey_questions(jt):
        if question["type"] != "multiplechoice":
            continue
        for option, (role, spec, default) in sorted(_fed_options(graph, question["variable"]).items()):
            if not spec.get("choices") or spec.get("type") == "bool":
                continue
            offered, valid = set(question["choices"]), {str(c) for c in spec["choices"]}
            if offered - valid:
                problems.append("%s offers %s that %s (%s) refuses" % (question["variable"], sorted(offered - valid),
                                                                       option, role))
            if valid - offered:
                problems.append("%s does not offer %s that %s (%s) accepts" % (question["variable"],
                                                                               sorted(valid - offered), option, role))
            if default is not None and "default" in question and question["default"] != str(default):
                problems.append("%s defaults to %r in the survey but %s (%s) to %r" % (
                    question["variable"], question["default"], option, role, default))
    return problems


@pytest.mark.parametrize("jt", JOB_TEMPLATES, ids=JT_IDS)
def test_multiple_choice_questions_offer_exactly_what_the_roles_accept(jt):
    """A multiple-choice question offers every value the role options it feeds (directly, or through a role
    default that is that runbook variable) accept, no other, and the same default."""
    graph = _graph(jt)
    problems = _choice_problems(jt, graph)
    assert not problems, "%s: %s" % (jt["name"], "; ".join(problems))


def test_the_upgrade_cluster_survey_offers_the_rollout_strategy():
    [jt] = [j for j in JOB_TEMPLATES if m.resolve_playbook(j["playbook"]) == m.resolve_playbook("playbooks/upgrade-cluster.yml")]
    [question] = [q for q in m.survey_questions(jt) if q["variable"] == "upgrade_cluster_strategy"] or [None]
    assert question is not None, "the upgrade-cluster survey does not ask for upgrade_cluster_strategy"
    assert question["type"] == "multiplechoice" and question["default"] == "surge", question
    fed = _fed_options(_graph(jt), "upgrade_cluster_strategy")
    assert {"cluster_preflight_strategy", "node_pool_rollout_strategy"} <= set(fed), fed


def test_a_missing_or_wrong_choice_is_caught():
    """The check above on a survey that lost blue_green, and one that offers a strategy no role knows."""
    [jt] = [j for j in JOB_TEMPLATES if m.resolve_playbook(j["playbook"]) == m.resolve_playbook("playbooks/upgrade-cluster.yml")]
    graph = _graph(jt)
    for choices, default, expected in ((["surge"], "surge", "does not offer ['blue_green']"),
                                       (["surge", "blue_green", "canary"], "surge", "offers ['canary']"),
                                       (["surge", "blue_green"], "blue_green", "defaults to 'blue_green'")):
        spec = [dict(q, choices=choices, default=default) if q["variable"] == "upgrade_cluster_strategy" else q
                for q in m.survey_questions(jt)]
        broken = dict(jt, survey=dict(jt["survey"], spec=spec))
        problems = _choice_problems(broken, graph)
        assert any(expected in p for p in problems), problems
