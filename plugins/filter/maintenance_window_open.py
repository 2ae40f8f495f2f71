# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether now is inside a maintenance window, with the rules upgrade-cluster's preflight uses
(module_utils/k8s/upgrade_preflight.py in_window), for runbooks whose gate is a task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: maintenance_window_open
short_description: Whether a time (now by default) is inside a maintenance window
version_added: 0.1.0
description:
  - The window is C({days, start, end}) in UTC, as C(cluster_preflight_maintenance_window) takes it; an empty
    window is always open, a window across midnight (C(start) after C(end)) is open on both sides of it.
  - A window that is not valid fails with an error that names what would be.
options:
  _input:
    description: 'The window C({days: [mon..sun], start: "HH:MM", end: "HH:MM"}), or an empty dictionary.'
    type: dict
    required: true
  now:
    description: The time to judge (ISO 8601, UTC when it has no zone); now when empty.
    type: str
"""

EXAMPLES = r"""
- name: Refuse outside the window
  ansible.builtin.assert:
    that: window | fournines.runbooks.maintenance_window_open
    fail_msg: outside the maintenance window {{ window }}
  vars:
    window: {days: [sat, sun], start: "01:00", end: "05:00"}
"""

RETURN = r"""
_value:
  description: Whether the time is inside the window.
  type: bool
"""

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.upgrade_preflight import in_window


def maintenance_window_open(window, now=None):
    if window in (None, "", {}):
        return True
    if not isinstance(window, dict):
        raise AnsibleFilterError("maintenance_window_open: the window %r is not valid; give {days: [sat, sun], "
                                 "start: 'HH:MM', end: 'HH:MM'} (UTC) or {}" % (window,))
    try:
        when = (datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00")) if now
                else datetime.datetime.now(datetime.timezone.utc))
    except ValueError:
        raise AnsibleFilterError("maintenance_window_open: now %r is not an ISO 8601 time" % (now,))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    try:
        return in_window(window, when.astimezone(datetime.timezone.utc))
    except RunbookError as err:
        raise AnsibleFilterError("maintenance_window_open: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"maintenance_window_open": maintenance_window_open}
