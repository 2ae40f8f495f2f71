"""report/markdown.py: the one Markdown table every report uses."""

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
