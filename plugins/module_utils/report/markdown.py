# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown helpers shared by the runbook reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def markdown_table(headers, rows):
    """A Markdown table; cells are str()-ed and pipes escaped."""
    def cell(value):
        return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + " --- |" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
