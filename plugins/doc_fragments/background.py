# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The state option of the modules that start and stop a background helper (http_prober, k8s_drill_watch,
    postgres_cnpg_write_prober; module_utils/common/background.py STATE_SPEC)."""

    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(started) starts the helper in the background, or adopts the one already running for the same directory.
      - V(stopped) stops it and returns what it recorded.
    type: str
    choices: [started, stopped]
    default: started
"""
