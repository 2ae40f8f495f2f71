#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: runbook_journal
short_description: Open, resume and update a runbook run's journal (reports/<run-id>/state.json)
version_added: 0.1.0
description:
  - "Chooses the run: O(run_id) when given; otherwise, with O(resume), the newest unfinished run (status
    C(running) or C(failed)) of O(runbook) under O(reports_dir) whose C(facts.key) equals O(key); otherwise a
    new run id C(<runbook>-<UTC time>-<4 chars>)."
  - Then records O(step) with O(status) and O(details), merges O(facts), sets O(outcome), and with O(finish) sets
    the run's final status. The journal is the file a re-run reads to carry on where an interrupted run stopped.
  - Carrying on a run that failed removes the failed attempt's outcome (its report then says how the new attempt
    ended), unless O(outcome) sets a new one.
attributes:
  check_mode:
    details: Chooses the run and reads its journal; writes nothing.
  diff_mode:
    support: none
    details: No diff.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal.record
options:
  runbook:
    description: Name of the runbook, for example V(upgrade-cluster).
    type: str
    required: true
  run_id:
    description: Use this run (created if missing) instead of choosing one.
    type: str
  resume:
    description: Without O(run_id), carry on the newest unfinished run of O(runbook) with the same O(key).
    type: bool
    default: true
  key:
    description: What the run acts on (for example the cluster id); a run is only resumed for the same key.
    type: str
  finish:
    description: Set the run's final status.
    type: str
    choices: [done, failed]
"""

EXAMPLES = r"""
- name: Open (or resume) the upgrade run of cluster 314159
  fournines.runbooks.runbook_journal:
    reports_dir: reports
    runbook: upgrade-cluster
    key: "314159"
  register: run

- name: Mark the run done
  fournines.runbooks.runbook_journal:
    reports_dir: reports
    runbook: upgrade-cluster
    run_id: "{{ run.run_id }}"
    finish: done
"""

RETURN = r"""
run_id:
  description: The run's id.
  returned: always
  type: str
dir:
  description: The run's directory, C(<reports_dir>/<run_id>).
  returned: always
  type: str
progress_file:
  description:
    - C(<dir>/progress.log), where long waits append progress lines. The
      P(fournines.runbooks.progress#callback) callback follows it and shows the lines while tasks run.
  returned: always
  type: str
resumed:
  description: Whether the run existed before this task (a re-run carrying on).
  returned: always
  type: bool
state:
  description: The journal (run_id, runbook, created, updated, status, facts, steps).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import choose_run
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RECORD_ARG_SPEC, RunJournal, record


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RECORD_ARG_SPEC,
            runbook=dict(type="str", required=True),
            run_id=dict(type="str"),
            resume=dict(type="bool", default=True),
            key=dict(type="str", no_log=False),
            finish=dict(type="str", choices=["done", "failed"]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        run_id, resumed = choose_run(p["reports_dir"], p["runbook"], p["run_id"], p["resume"], p["key"])
        journal = RunJournal(p["reports_dir"], run_id, p["runbook"])
        changed = False
        if not module.check_mode:
            if not resumed:
                journal.state["facts"]["key"] = p["key"]
                journal.save()
                changed = True
            elif journal.state.get("status") != "running" and not p["finish"]:
                journal.finish("running")  # carrying on an interrupted or failed run
                if "outcome" in journal.state:
                    journal.set_outcome(None)  # how the failed attempt ended is not how this one will
                changed = True
            changed = record(journal, p) or changed
            if p["finish"]:
                journal.finish(p["finish"])
                changed = True
    except RunbookError as err:
        fail_from_error(module, err)
    run_dir = os.path.join(p["reports_dir"], run_id)
    module.exit_json(changed=changed, run_id=run_id, dir=run_dir, progress_file=os.path.join(run_dir, "progress.log"),
                     resumed=resumed, state=journal.state)


if __name__ == "__main__":
    main()
