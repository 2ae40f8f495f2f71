#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tls_check_report
short_description: Write the certificate check's report (Markdown + JSON) and give the verdict
version_added: 0.1.0
description:
  - Turns the results of M(fournines.runbooks.tls_certificate_scan),
    M(fournines.runbooks.cert_manager_certificate_info), M(fournines.runbooks.tls_acme_headroom)
    and the renew action into C(report.md) and C(report.json) under
    O(reports_dir)/O(run_id)/, with the run journal (C(state.json)) of the check.
  - Returns the overall status (the worst of all parts; an unreachable endpoint counts as
    critical) and summary lines for the task output.
attributes:
  check_mode:
    details: In check mode nothing is written; the verdict and summary are still returned.
  diff_mode:
    support: none
    details: Writes new files only.
extends_documentation_fragment:
  - fournines.runbooks.attributes
options:
  reports_dir:
    description: Folder holding one sub-folder per run.
    type: path
    required: true
  run_id:
    description: Run identifier; a new one is made when empty. Re-using one updates that run's report.
    type: str
  title:
    description: Report title.
    type: str
    default: Certificate check
  scan:
    description: The registered result of M(fournines.runbooks.tls_certificate_scan).
    type: dict
  cert_manager:
    description: The registered result of M(fournines.runbooks.cert_manager_certificate_info).
    type: dict
  headroom:
    description: The registered result of M(fournines.runbooks.tls_acme_headroom).
    type: dict
  renew:
    description: What the renew action did (C(endpoint), C(names), C(changed), C(reason), before/after facts).
    type: dict
"""

EXAMPLES = r"""
- name: Write the report
  fournines.runbooks.tls_check_report:
    reports_dir: "{{ playbook_dir }}/../reports"
    scan: "{{ scan }}"
    headroom: "{{ headroom }}"
  register: report
"""

RETURN = r"""
status:
  description: V(ok), V(warning) or V(critical).
  returned: always
  type: str
summary:
  description: One line per part, plus one per endpoint or Certificate that is not ok.
  returned: always
  type: list
  elements: str
run_id:
  description: The run identifier.
  returned: always
  type: str
report:
  description: Paths of the written files (C(dir), C(json), C(markdown)); empty in check mode.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.report import certificates
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal, new_run_id

_PARTS = (("scan", "scan endpoints"), ("cert_manager", "read cert-manager"), ("headroom", "ACME headroom"),
          ("renew", "renew"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            reports_dir=dict(type="path", required=True),
            run_id=dict(type="str"),
            title=dict(type="str", default="Certificate check"),
            scan=dict(type="dict"),  # free-form: registered results (Ansible adds its own keys)
            cert_manager=dict(type="dict"),
            headroom=dict(type="dict"),
            renew=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    run_id = p["run_id"] or new_run_id("check-certificates")
    try:
        status, sections, summary, data = certificates.build(p["scan"], p["cert_manager"], p["headroom"], p["renew"])
    except (KeyError, TypeError) as err:
        module.fail_json(msg="a result passed to tls_check_report is not what the module that made it returns "
                             "(missing %s); pass the registered results unchanged" % err)
    files = {}
    if not module.check_mode:
        try:
            journal = RunJournal(p["reports_dir"], run_id, "check-certificates")
            for key, step in _PARTS:
                if p[key]:
                    journal.step(step, "done")
            journal.set_fact("status", status)
            journal.finish("failed" if status == "critical" else "done")
            files = journal.write_report(p["title"], sections, data)
        except RunbookError as err:
            fail_from_error(module, err)
        except (IOError, OSError) as err:
            module.fail_json(msg="cannot write the report under %s: %s" % (p["reports_dir"], err))
    module.exit_json(changed=bool(files), status=status, summary=summary, run_id=run_id, report=files)


if __name__ == "__main__":
    main()
