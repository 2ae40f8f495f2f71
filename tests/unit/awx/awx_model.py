"""Read the AWX declaration (roles/awx_config/defaults/main.yml) and what the playbooks read.

Shared by tests/unit/awx (consistency) and tests/integration/awx_runner (runs as AWX would).
Nothing here is hard-coded about the runbooks: playbooks, roles, their defaults, argument specs
and the inventories are discovered from the files, so the checks follow the runbooks as they change.
"""

import glob
import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE_DIR = os.path.join(REPO, "roles")
PLAYBOOK_DIR = os.path.join(REPO, "playbooks")
AWX_DEFAULTS = os.path.join(ROLE_DIR, "awx_config", "defaults", "main.yml")
COLLECTION_PREFIX = "fournines.runbooks."

# What AWX puts into extra vars for each survey question type.
SURVEY_TYPES = {
    "text": str, "textarea": str, "password": str, "multiplechoice": str,
    "multiselect": list, "integer": int, "float": float,
}
# Which role argument_spec types accept an AWX answer of that Python type as is.
ACCEPTS = {
    str: {"str", "raw", "path"},
    int: {"int", "raw", "float"},
    float: {"float", "raw"},
    list: {"list", "raw"},
}
# Keys whose values Ansible evaluates as bare Jinja expressions.
BARE_EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until", "loop", "with_items", "var"}
TASK_LIST_KEYS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")
INCLUDE_ROLE = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
INCLUDE_TASKS = {"include_tasks", "import_tasks", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks"}
IMPORT_PLAYBOOK = {"import_playbook", "ansible.builtin.import_playbook"}
SET_FACT = {"set_fact", "ansible.builtin.set_fact"}
# Names Ansible or Jinja provide; never "required variables" of a playbook.
MAGIC = {
    "inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short", "playbook_dir",
    "role_path", "role_name", "hostvars", "groups", "group_names", "item", "omit", "play_hosts",
    "lookup", "query", "q", "range", "dict", "lipsum", "now", "undef", "true", "false", "none", "True",
    "False", "None", "and", "or", "not", "in", "is", "if", "else", "elif", "for", "endfor", "endif", "set",
    "loop", "vars", "environment", "playbook_dir", "ansible_play_hosts", "ansible_check_mode",
}


class _Loader(yaml.SafeLoader):
    """YAML loader that accepts Ansible's !unsafe and !vault tags (their text is kept)."""


def _tagged_scalar(loader, node):
    return loader.construct_scalar(node)


_Loader.add_constructor("!unsafe", _tagged_scalar)
_Loader.add_constructor("!vault", _tagged_scalar)


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec - SafeLoader subclass


def awx_config():
    """The declaration, exactly as the role applies it."""
    return load_yaml(AWX_DEFAULTS)


def job_templates():
    return awx_config()["awx_config_job_templates"]


def job_template(name):
    for jt in job_templates():
        if jt["name"] == name:
            return jt
    raise KeyError("no job template %r in %s" % (name, AWX_DEFAULTS))


def runbook_playbooks():
    """Every runbook playbook in playbooks/ (top level; awx_configure.yml is not a runbook and an
    alias such as upgrade-cluster.yml is not one either: it imports its runbook)."""
    found = []
    for path in sorted(glob.glob(os.path.join(PLAYBOOK_DIR, "*.yml"))):
        rel = os.path.relpath(path, REPO)
        if os.path.basename(path) != "awx_configure.yml" and alias_target(rel) is None:
            found.append(rel)
    return found


def alias_target(playbook):
    """The playbook an alias imports (a file of exactly one play that only imports a sibling in
    the same folder, as playbooks/upgrade-cluster.yml imports upgrade_cluster.yml), else None."""
    plays = load_yaml(os.path.join(REPO, playbook)) or []
    if len(plays) != 1 or not isinstance(plays[0], dict):
        return None
    keys = set(plays[0]) - {"name"}
    if len(keys) != 1 or not keys <= IMPORT_PLAYBOOK:
        return None
    target = plays[0][keys.pop()]
    if not isinstance(target, str) or os.path.basename(target) != target:
        return None
    return os.path.join(os.path.dirname(playbook), target)


def resolve_playbook(playbook):
    """The runbook a job template's playbook runs: itself, or what it imports when it is an alias."""
    target = alias_target(playbook) if os.path.isfile(os.path.join(REPO, playbook)) else None
    return target or playbook


def resolve_value(value, table):
    """A value of the declaration with a bare "{{ name }}" replaced by `table[name]` (one level, as
    the role's own defaults refer to each other); anything else as is."""
    match = re.fullmatch(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}", value) if isinstance(value, str) else None
    return table[match.group(1)] if match else value


def survey_questions(jt):
    return (jt.get("survey") or {}).get("spec", [])


def survey_answers(jt, overrides=None):
    """Extra vars an AWX launch would send: each question's default (typed as AWX types it)
    plus the given answers; questions without a default and without an answer are left out."""
    answers = {}
    for question in survey_questions(jt):
        if "default" in question and question["default"] is not None:
            answers[question["variable"]] = question["default"]
    answers.update(overrides or {})
    return answers


# ---------------------------------------------------------------- what a playbook runs

def _role_dir(name):
    if not isinstance(name, str) or "{{" in name:
        return None
    if name.startswith(COLLECTION_PREFIX):
        name = name[len(COLLECTION_PREFIX):]
    path = os.path.join(ROLE_DIR, name)
    return path if os.path.isdir(path) else None


class PlaybookGraph:
    """The files a playbook runs: itself, imported playbooks, roles (with meta dependencies)
    and included task files; plus play-level vars, registered names and set_fact names."""

    def __init__(self, playbook):
        self.playbook = os.path.join(REPO, playbook)
        self.files = []
        self.roles = []
        self.role_entry_points = {}
        self.play_vars = {}
        self.hosts = []
        self.vars_prompt = []
        self.play_keywords = []
        self.produced = set()
        self._seen = set()
        self._playbook(self.playbook)

    def _add_file(self, path):
        if path in self._seen or not os.path.isfile(path):
            return False
        self._seen.add(path)
        self.files.append(path)
        return True

    def _playbook(self, path):
        if not self._add_file(path):
            return
        for play in load_yaml(path) or []:
            for key in IMPORT_PLAYBOOK:
                if key in play:
                    self._playbook(os.path.join(os.path.dirname(path), play[key]))
            hosts = play.get("hosts")
            if hosts:
                self.hosts.extend(h.strip() for h in str(hosts).replace(",", ":").split(":") if h.strip())
            self.play_vars.update(play.get("vars") or {})
            self.vars_prompt.extend(play.get("vars_prompt") or [])
            # evaluated for every task: what they refer to is needed by the whole play
            for keyword in ("module_defaults", "environment"):
                if play.get(keyword):
                    self.play_keywords.append(yaml.safe_dump(play[keyword]))
            for role in play.get("roles") or []:
                name = role if isinstance(role, str) else role.get("role") or role.get("name")
                self._role(name, "main")
            for key in TASK_LIST_KEYS:
                self._tasks(play.get(key) or [], os.path.dirname(path))

    def _role(self, name, entry):
        path = _role_dir(name)
        if path is None:
            return
        self.role_entry_points.setdefault(path, set()).add(entry)
        if path in self.roles:
            return
        self.roles.append(path)
        for sub in ("tasks", "handlers", "defaults", "vars", "templates"):
            for file_path in sorted(glob.glob(os.path.join(path, sub, "**", "*"), recursive=True)):
                if os.path.isfile(file_path) and self._add_file(file_path) and sub in ("tasks", "handlers"):
                    if file_path.endswith((".yml", ".yaml")):
                        self._tasks(load_yaml(file_path) or [], os.path.dirname(file_path))
        meta = os.path.join(path, "meta", "main.yml")
        if os.path.isfile(meta):
            for dep in (load_yaml(meta) or {}).get("dependencies") or []:
                self._role(dep if isinstance(dep, str) else dep.get("role") or dep.get("name"), "main")

    def _tasks(self, tasks, base):
        if not isinstance(tasks, list):
            return
        for task in tasks:
            if not isinstance(task, dict):
                continue
            if task.get("register"):
                self.produced.add(task["register"])
            loop_control = task.get("loop_control") or {}
            if isinstance(loop_control, dict) and loop_control.get("loop_var"):
                self.produced.add(loop_control["loop_var"])
            for key, value in task.items():
                if key in INCLUDE_ROLE and isinstance(value, dict):
                    self._role(value.get("name"), value.get("tasks_from", "main").rsplit(".", 1)[0])
                elif key in INCLUDE_TASKS:
                    target = value.get("file") if isinstance(value, dict) else value
                    if isinstance(target, str) and "{{" not in target:
                        path = os.path.join(base, target)
                        if self._add_file(path):
                            self._tasks(load_yaml(path) or [], os.path.dirname(path))
                elif key in SET_FACT and isinstance(value, dict):
                    self.produced.update(k for k in value if k != "cacheable")
                elif key in TASK_LIST_KEYS:
                    self._tasks(value, base)

    # -------------------------------------------------------------- what it reads

    def expressions(self):
        """All Jinja expression text of the files the playbook runs (comments and prose ignored)."""
        chunks = []
        for path in self.files:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            chunks.extend(_jinja_blocks(text))
            if path.endswith((".yml", ".yaml")):
                _bare_expressions(load_yaml(path), chunks)
        return "\n".join(chunks)

    def reads(self):
        """Every variable name the playbook's expressions refer to."""
        return set(identifiers(self.expressions()))

    def argument_specs(self):
        """{role_dir: {option: spec}} for the entry points the playbook uses."""
        specs = {}
        for role in self.roles:
            path = os.path.join(role, "meta", "argument_specs.yml")
            if not os.path.isfile(path):
                continue
            entry_points = (load_yaml(path) or {}).get("argument_specs") or {}
            options = {}
            for entry in self.role_entry_points.get(role, {"main"}):
                options.update((entry_points.get(entry) or {}).get("options") or {})
            specs[role] = options
        return specs

    def play_needs(self):
        """Names the play's module_defaults and environment need (those without a default())."""
        needed = set()
        for text in self.play_keywords:
            expression = " ".join(_jinja_blocks(text))
            needed.update(set(identifiers(expression)) - _optional_names(expression))
        return sorted(needed)

    def role_defaults(self):
        values = {}
        for role in self.roles:
            for path in glob.glob(os.path.join(role, "defaults", "main.y*ml")):
                values.update(load_yaml(path) or {})
        return values


_JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN = re.compile(r"(?<![\w.|])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")


def _jinja_blocks(text):
    return [a or b for a, b in _JINJA.findall(text)]


def _bare_expressions(node, chunks):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in BARE_EXPRESSION_KEYS:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and "{{" not in item:
                        chunks.append(item)
            _bare_expressions(value, chunks)
    elif isinstance(node, list):
        for item in node:
            _bare_expressions(item, chunks)


def identifiers(expression):
    """Variable names an expression refers to: no string literals, filters (after |),
    attributes (after .), calls (before '('), tests (after 'is') or Jinja keywords."""
    text = _STRING.sub("''", expression)
    text = re.sub(r"\bis\s+(not\s+)?[A-Za-z_]\w*", "", text)
    text = re.sub(r"\|\s*[A-Za-z_][\w.]*", "|", text)
    text = re.sub(r"\b[A-Za-z_]\w*\s*=(?!=)", "", text)
    return [t for t in _TOKEN.findall(text) if t not in MAGIC and not t.startswith("ansible_")]


def _optional_names(expression):
    """Names followed by | default(...): the expression works without them."""
    return set(re.findall(r"([A-Za-z_]\w*)\s*\|\s*(?:default|d)\s*\(", _STRING.sub("''", expression)))


# ---------------------------------------------------------------- inventories

def inventory_vars(source_path, groups):
    """Variables an inventory file gives to hosts of the groups (group_vars/<g>, group vars in the
    file, all; host_vars of any host), read without templating."""
    inv_file = os.path.join(REPO, source_path)
    inv_dir = os.path.dirname(inv_file)
    values = {}
    wanted = set(groups) | {"all"}
    data = load_yaml(inv_file) or {}

    def walk(name, group):
        if not isinstance(group, dict):
            return
        if name in wanted:
            values.update(group.get("vars") or {})
            for child in (group.get("children") or {}):
                wanted.add(child)
        for host_vars in (group.get("hosts") or {}).values():
            values.update(host_vars or {})
        for child_name, child in (group.get("children") or {}).items():
            walk(child_name, child)

    for name, group in data.items():
        walk(name, group)
    for group in wanted:
        for path in glob.glob(os.path.join(inv_dir, "group_vars", group + ".y*ml")) + \
                glob.glob(os.path.join(inv_dir, "group_vars", group, "*.y*ml")):
            values.update(load_yaml(path) or {})
    for path in glob.glob(os.path.join(inv_dir, "host_vars", "*.y*ml")) + \
            glob.glob(os.path.join(inv_dir, "host_vars", "*", "*.y*ml")):
        values.update(load_yaml(path) or {})
    return values


def _string_leaves(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _string_leaves(item)


def unresolved(name, sources, produced, seen=None):
    """Why `name` has no value before the play runs, or None when something provides it.

    sources: ordered {label: {var: value}} (survey answers, play vars, role defaults, inventory);
    a templated value counts only when the names it needs (those without a default()) resolve too.
    """
    seen = seen or set()
    if name in MAGIC or name.startswith("ansible_") or name in produced or name in seen:
        return None
    seen = seen | {name}
    for label, table in sources.items():
        if name not in table:
            continue
        value = table[name]
        # The string leaves themselves: a YAML dump would double the quotes inside the
        # expressions (lookup('a.b.c') -> lookup(''a.b.c'')) and turn literals into names.
        text = " ".join(_string_leaves(value))
        if not isinstance(text, str) or "{{" not in text:
            return None
        expression = " ".join(_jinja_blocks(text))
        optional = _optional_names(expression)
        for needed in identifiers(expression):
            if needed in optional:
                continue
            why = unresolved(needed, sources, produced, seen)
            if why:
                return "%s (from %s's value of %s)" % (why, label, name)
        return None
    return "%s has no value (no survey answer, play var, role default or inventory var)" % name
