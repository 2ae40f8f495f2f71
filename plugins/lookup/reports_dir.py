# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one default for where runbooks keep their run folders and the downtime ledger."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: reports_dir
short_description: The default folder of the runbooks' reports, journals and downtime ledger
version_added: 0.1.0
description:
  - Where a runbook keeps C(<run-id>/state.json), C(report.md), C(report.json) and the downtime ledger when
    the inventory or C(-e) does not say. The folder must be the same on every run of a runbook, or a
    re-run after an interruption cannot find its journal and starts over; so it never depends on the
    current working directory.
  - The environment variable E(FOURNINES_REPORTS_DIR) when it is set.
  - Else, for a playbook run from a checkout of the collection's repository (C(galaxy.yml) in the folder
    above the playbook's), the checkout's C(reports/) folder (git-ignored), as AWX projects and
    C(make demo) use it.
  - Else (the collection installed with C(ansible-galaxy), whose playbooks live inside the collections
    path, or a playbook of your own), C($XDG_STATE_HOME/fournines/reports), by default
    C(~/.local/state/fournines/reports) of the user running C(ansible-playbook) on the controller.
  - The folder is not created here; the step that writes to it creates it.
options:
  _terms:
    description: Path parts to join under the folder, for example V(downtime.jsonl).
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Where this run's reports go
  ansible.builtin.debug:
    msg: "{{ lookup('fournines.runbooks.reports_dir') }}"

- name: The downtime ledger beside them
  ansible.builtin.debug:
    msg: "{{ lookup('fournines.runbooks.reports_dir', 'downtime.jsonl') }}"
"""

RETURN = r"""
_raw:
  description: One absolute path, the folder (or the joined path under it).
  type: list
  elements: str
"""

import os

from ansible.plugins.lookup import LookupBase

ENV_VAR = "FOURNINES_REPORTS_DIR"


def default_reports_dir(playbook_dir, environ):
    """The folder for ``playbook_dir`` (None outside a play) and the controller's ``environ``."""
    if environ.get(ENV_VAR):
        return os.path.abspath(os.path.expanduser(environ[ENV_VAR]))
    if playbook_dir:
        checkout = os.path.dirname(os.path.abspath(playbook_dir))
        if os.path.isfile(os.path.join(checkout, "galaxy.yml")):
            return os.path.join(checkout, "reports")
    home = environ.get("HOME") or os.path.expanduser("~")
    state = environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(os.path.abspath(state), "fournines", "reports")


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        base = default_reports_dir((variables or {}).get("playbook_dir"), os.environ)
        return [os.path.join(base, *[str(t) for t in terms])]
