# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type the collection's shared code raises.

Modules catch :class:`RunbookError` and turn it into ``fail_json(msg=str(err))``;
anything else escaping is a bug. Messages name the bad input and what would be valid.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class RunbookError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""

    def __init__(self, msg, **details):
        super(RunbookError, self).__init__(msg)
        self.msg = msg
        self.details = details
