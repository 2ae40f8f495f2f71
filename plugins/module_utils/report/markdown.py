# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown of the runbook reports, as Jinja2 templates.

Every report.md is rendered from a template: the shared ones live in :data:`TEMPLATES` (the run's
frame with its outcome, steps and sections; a section given as a dict; a table), and each report
keeps its own section templates beside its code (``report/node_drill.py``, ``node_loss.py``,
``certificates.py``) and renders them with :func:`render`. Templates are Python string constants,
so they travel with the module_utils that use them (AnsiballZ ships no package data).

Filters every template may use: ``md_cell`` (a table cell: pipes escaped, one line), ``squash``
(white space folded to single spaces), ``rstrip`` and ``md_table(headers, rows)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

try:
    import jinja2
    HAS_JINJA2 = True
    JINJA2_IMPORT_ERROR = None
except ImportError as import_error:  # ansible-core brings it; only a bare target host lacks it
    HAS_JINJA2 = False
    JINJA2_IMPORT_ERROR = import_error

#: The shared templates, by name (``{% include "outcome" %}``).
TEMPLATES = {
    # A Markdown table; render_table strips the last newline.
    "table": """\
| {{ headers | map("md_cell") | join(" | ") }} |
|{{ " --- |" * (headers | length) }}
{% for row in rows %}
| {{ row | map("md_cell") | join(" | ") }} |
{% endfor %}
""",
    # How the run ended (RunJournal.set_outcome); nothing without one.
    "outcome": """\
{% if outcome %}

## What happened

{{ outcome.get("summary") | squash }}
{% if outcome.get("error") %}
{% set fence = "~~~" if "```" in (outcome["error"] | string) else "```" %}

Error:

{{ fence }}text
{{ outcome["error"] | string | trim }}
{{ fence }}
{% endif %}

Changed:

{% for item in outcome.get("changed") or [] %}
- {{ item | squash }}
{% else %}
- nothing
{% endfor %}
{% if outcome.get("unchanged") %}

Not changed:

{% for item in outcome["unchanged"] %}
- {{ item | squash }}
{% endfor %}
{% endif %}
{% endif %}
""",
    # The body of a section given as a dict: body, items (bullets) and/or table, blank-line separated.
    "section": """\
{% set part = joiner("\\n\\n") %}
{% if section.get("body") %}{{ part() }}{{ section["body"] | string | rstrip }}{% endif %}
{% if section.get("items") is not none %}{{ part() }}{% for item in section["items"] %}\
{{ "\\n" if not loop.first else "" }}- {{ item | squash }}{% else %}none{% endfor %}{% endif %}
{% if section.get("table") and section["table"].get("rows") %}{{ part() }}\
{{ (section["table"].get("headers") or []) | md_table(section["table"]["rows"]) }}{% endif %}
""",
    # report.md: title, the run, its outcome, its steps, then the sections ((heading, body) pairs).
    "report": """\
# {{ title }}

- run: `{{ state["run_id"] }}`
- status: **{{ state["status"] }}**
- started: {{ state["created"] }}
- updated: {{ state["updated"] }}
{% include "outcome" %}

## Steps

| step | status | started | finished |
| --- | --- | --- | --- |
{% for step in state["steps"] %}
| {{ step["name"] }} | {{ step["status"] }} | {{ step["started"] }} | {{ step["finished"] or "" }} |
{% endfor %}
{% for heading, body in sections %}

## {{ heading }}

{{ body | rstrip }}
{% endfor %}
""",
}

_ENV = []
_COMPILED = {}


def _cell(value):
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _squash(value):
    return " ".join(str("" if value is None else value).split())


def _rstrip(value):
    return str(value).rstrip()


def _environment():
    if not HAS_JINJA2:
        raise RunbookError("the Python library jinja2 (which ansible-core installs) is needed to write the Markdown "
                           "report: %s" % JINJA2_IMPORT_ERROR)
    if not _ENV:
        # Markdown, not HTML: nothing to escape (cells escape pipes themselves through md_cell).
        env = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), trim_blocks=True, lstrip_blocks=True,
                                 keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
        env.filters.update(md_cell=_cell, squash=_squash, rstrip=_rstrip, md_table=markdown_table)
        _ENV.append(env)
    return _ENV[0]


def render(template, **context):
    """Render ``template``: the name of one of :data:`TEMPLATES`, or a template's own source text."""
    env = _environment()
    if template in TEMPLATES:
        return env.get_template(template).render(**context)
    if template not in _COMPILED:
        _COMPILED[template] = env.from_string(template)
    return _COMPILED[template].render(**context)


def markdown_table(headers, rows):
    """A Markdown table; cells are str()-ed and pipes escaped."""
    return render("table", headers=list(headers), rows=[list(row) for row in rows]).rstrip("\n")
