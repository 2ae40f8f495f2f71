# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RRset lists for the DNS runbooks from a list or an AWX textarea; the rules live in module_utils/dns/ttl_change.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: dns_records
short_description: RRsets as a list of C({name, type}) from a list or from C(NAME TYPE) lines
version_added: 0.1.0
description:
  - A list of C({name, type}) dictionaries is returned as it is.
  - A string (for example an AWX survey textarea answer) or a list of strings gives one RRset per
    C(NAME TYPE) line (C(NAME) alone where the provider knows the type, as external-dns does); blank lines
    and C(#) comments are skipped and the type is upper-cased.
  - Anything else fails with an error that names the offending line.
options:
  _input:
    description: A list of C({name, type}), a list of C(NAME TYPE) strings, or one string with one per line.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Records from a survey answer
  ansible.builtin.debug:
    msg: "{{ 'app A\nwww CNAME' | fournines.runbooks.dns_records }}"
    # [{"name": "app", "type": "A"}, {"name": "www", "type": "CNAME"}]
"""

RETURN = r"""
_value:
  description: The RRsets, each a dictionary with C(name) and C(type).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change


def dns_records(value):
    try:
        return ttl_change.parse_records(value)
    except ttl_change.DNSError as err:
        raise AnsibleFilterError("dns_records: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"dns_records": dns_records}
