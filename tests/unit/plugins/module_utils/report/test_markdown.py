"""report/markdown.py: the Jinja2 templates every report renders, and the one Markdown table."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown
from ansible_collections.fournines.runbooks.plugins.module_utils.report.markdown import markdown_table


def test_header_separator_and_rows():
    assert markdown_table(["a", "b"], [(1, "x"), (2, "y")]) == "| a | b |\n| --- | --- |\n| 1 | x |\n| 2 | y |"


def test_cells_cannot_break_the_table():
    table = markdown_table(["what", "value"], [("pipe", "a|b"), ("lines", "one\ntwo"), ("none", None)])
    rows = table.splitlines()
    assert rows[2] == "| pipe | a\\|b |"
    assert rows[3] == "| lines | one two |"
    assert rows[4] == "| none |  |"
    assert len(rows) == 5


def test_no_rows():
    assert markdown_table(["only"], []) == "| only |\n| --- |"


def test_a_cell_is_data_not_a_template():
    assert markdown_table(["x"], [("{{ 7 * 6 }} {% if x %}",)]).splitlines()[2] == "| {{ 7 * 6 }} {% if x %} |"


def test_outcome_template_fences_the_error_and_lists_changes():
    text = markdown.render("outcome", outcome={"summary": "it  failed\n at  step 3", "error": "pg_upgrade said ``` | x",
                                               "changed": [], "unchanged": ["production  was not touched"]})
    assert text.splitlines() == ["", "## What happened", "", "it failed at step 3", "", "Error:", "", "~~~text",
                                 "pg_upgrade said ``` | x", "~~~", "", "Changed:", "", "- nothing", "", "Not changed:",
                                 "", "- production was not touched"]
    assert markdown.render("outcome", outcome=None) == ""


def test_render_compiles_a_reports_own_template_once():
    source = "{{ rows | length }} row(s)\n{{ ['a'] | md_table(rows) }}"
    assert markdown.render(source, rows=[[1]]) == "1 row(s)\n| a |\n| --- |\n| 1 |"
    assert source in markdown._COMPILED


def test_without_jinja2_the_report_error_says_so(monkeypatch):
    monkeypatch.setattr(markdown, "HAS_JINJA2", False)
    monkeypatch.setattr(markdown, "_ENV", [])
    with pytest.raises(RunbookError, match="jinja2"):
        markdown_table(["a"], [])
