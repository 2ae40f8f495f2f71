# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """When a certificate counts as expiring, for every module that judges certificates
    (module_utils/tls/endpoint_scan.py EXPIRY_ARG_SPEC)."""

    DOCUMENTATION = r"""
options:
  warn_days:
    description: A certificate expiring in fewer days is a V(warning).
    type: int
    default: 21
  fail_days:
    description: A certificate expiring in fewer days is V(critical). Must not exceed O(warn_days).
    type: int
    default: 7
  now:
    description: Judge the certificates at this time (ISO 8601) instead of now.
    type: str
"""
