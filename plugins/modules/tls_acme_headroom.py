#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tls_acme_headroom
short_description: ACME rate-limit headroom before a change that re-issues certificates
version_added: 0.1.0
description:
  - Counts the certificates issued in the last O(window_days) days per registered domain
    (limit O(per_domain_limit), renewals of a name set issued before are exempt) and per exact
    set of names (limit O(per_name_set_limit)), as Let's Encrypt does.
  - The registered domain comes from the Public Suffix List (python C(publicsuffixlist)), so
    C(shop.example.co.uk) counts against C(example.co.uk).
  - Issuances come from O(issuances) (for example RV(fournines.runbooks.cert_manager_certificate_info#module:issuances),
    read from cert-manager's CertificateRequests) and from the JSON-lines O(ledger) the
    collection keeps. The same certificate seen in both counts once.
  - With O(planned), the name sets a migration would re-issue, RV(fits) says whether they fit
    and RV(problems) names each limit that would be exceeded.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
options:
  issuances:
    description: Issued certificates, each C({names, issued_at, serial}).
    type: list
    elements: dict
    default: []
  ledger:
    description: "JSON-lines ledger of issuances, one C({\"names\": [...], \"issued_at\": \"...\", \"serial\": \"...\"}) per line. Missing means empty."
    type: path
  planned:
    description: Name sets (lists of DNS names) the coming change will have issued.
    type: list
    elements: list
    default: []
  window_days:
    description: Length of the sliding window.
    type: int
    default: 7
  per_domain_limit:
    description: Certificates per registered domain per window.
    type: int
    default: 50
  per_name_set_limit:
    description: Certificates per exact set of names per window.
    type: int
    default: 5
  now:
    description: End of the window (ISO 8601) instead of now.
    type: str
requirements:
  - publicsuffixlist
"""

EXAMPLES = r"""
- name: Will re-issuing three certificates during the migration hit Let's Encrypt's limits?
  fournines.runbooks.tls_acme_headroom:
    issuances: "{{ cm.issuances }}"
    ledger: /var/lib/fournines/acme-ledger.jsonl
    planned:
      - [www.example.com, example.com]
      - [api.example.com]
  register: headroom
  failed_when: not headroom.fits
"""

RETURN = r"""
fits:
  description: Whether every planned issuance fits every limit.
  returned: always
  type: bool
problems:
  description: One sentence per exceeded limit.
  returned: always
  type: list
  elements: str
registered_domains:
  description: Per registered domain, C(used), C(renewals), C(planned), C(limit), C(remaining), C(after_planned), C(fits), C(next_slot_at).
  returned: always
  type: list
  elements: dict
name_sets:
  description: Per exact set of names, C(used), C(planned), C(limit), C(remaining), C(after_planned), C(fits), C(next_slot_at).
  returned: always
  type: list
  elements: dict
issuances_counted:
  description: Issuances inside the window.
  returned: always
  type: int
duplicates_dropped:
  description: Issuances left out because they were seen twice.
  returned: always
  type: int
window_start:
  description: Start of the window (exclusive, UTC).
  returned: always
  type: str
window_end:
  description: End of the window (UTC).
  returned: always
  type: str
planned:
  description: The planned name sets, normalised.
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.tls.acme_ratelimit import HAS_PSL, headroom, RateLimitError, read_ledger


def main():
    module = AnsibleModule(
        argument_spec=dict(
            issuances=dict(type="list", elements="dict", default=[]),
            ledger=dict(type="path"),
            planned=dict(type="list", elements="list", default=[]),
            window_days=dict(type="int", default=7),
            per_domain_limit=dict(type="int", default=50),
            per_name_set_limit=dict(type="int", default=5),
            now=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "publicsuffixlist", HAS_PSL)
    try:
        records = list(p["issuances"]) + read_ledger(p["ledger"])
        result = headroom(records, p["planned"], now=p["now"], window_days=p["window_days"],
                          per_domain_limit=p["per_domain_limit"], per_name_set_limit=p["per_name_set_limit"])
    except RateLimitError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
