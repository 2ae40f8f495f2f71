# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What check and diff mode mean, written once.

    Every module that changes something extends C(fournines.runbooks.attributes) and states only
    the C(details) of check mode (every module supports it fully) and the C(support) and C(details)
    of diff mode. A module that only reads extends C(fournines.runbooks.attributes.info_module)
    instead and writes no attributes at all. Both carry the collection's C(author), so a module
    does not repeat it (Ansible merges a fragment's author list into the module's).
    """

    # Both are plain string literals: ansible-test's yamllint reads doc fragments without running them.
    DOCUMENTATION = r"""
author:
  - fournines.runbooks engineers (@fournines)
options: {}
attributes:
  check_mode:
    description: Can run in check mode (C(--check)) and report what would change without changing it.
    support: full
  diff_mode:
    description: Returns what changed (or, in check mode, would change) when run with C(--diff).
"""

    #: The whole attributes block of a module that only reads (extend this one instead of DOCUMENTATION).
    INFO_MODULE = r"""
author:
  - fournines.runbooks engineers (@fournines)
options: {}
attributes:
  check_mode:
    description: Can run in check mode (C(--check)) and report what would change without changing it.
    support: full
    details: Only reads, so it runs the same in check mode.
  diff_mode:
    description: Returns what changed (or, in check mode, would change) when run with C(--diff).
    support: N/A
    details: Changes nothing, so there is nothing to diff.
"""
