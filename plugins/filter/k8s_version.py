# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes version filters; the rules live in module_utils/k8s/versions.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: k8s_minor
short_description: The C(major.minor) of a Kubernetes version
version_added: 0.1.0
description:
  - V(v1.35.4) and V(1.35) both give V(1.35).
  - The same file provides P(fournines.runbooks.k8s_next_minor#filter) (one minor up) and
    P(fournines.runbooks.k8s_upgrade_target#filter) (the next minor if LKE offers it, else the current one).
options:
  _input:
    description: A version such as V(1.35), V(v1.35.4) or V(1.35.4-lke1).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The next minor if offered, else the current one
  ansible.builtin.debug:
    msg: "{{ lke.cluster.k8s_version | fournines.runbooks.k8s_upgrade_target(lke.versions) }}"
"""

RETURN = r"""
_value:
  description: The C(major.minor) string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import versions


def k8s_minor(version):
    try:
        return versions.minor(version)
    except versions.VersionError as err:
        raise AnsibleFilterError("k8s_minor: %s" % err)


def k8s_next_minor(version):
    try:
        return versions.next_minor(version)
    except versions.VersionError as err:
        raise AnsibleFilterError("k8s_next_minor: %s" % err)


def k8s_upgrade_target(current, available):
    """The next minor when ``available`` lists it, else the current minor."""
    try:
        nxt = versions.next_minor(current)
        return nxt if nxt in [versions.minor(v) for v in available or []] else versions.minor(current)
    except versions.VersionError as err:
        raise AnsibleFilterError("k8s_upgrade_target: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"k8s_minor": k8s_minor, "k8s_next_minor": k8s_next_minor, "k8s_upgrade_target": k8s_upgrade_target}
