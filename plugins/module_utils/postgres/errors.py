# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error of the postgres packages: a PostgreSQL step failed or was given bad input.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError


class PostgresError(RunbookError):
    """A PostgreSQL step failed or was given bad input."""
