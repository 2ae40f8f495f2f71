# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options of the postgres_* modules (module_utils/postgres/sql.py CONNECTION_SPEC)."""

    DOCUMENTATION = r"""
options:
  login_host:
    description: Host or socket directory of the server to connect to.
    type: str
    default: 127.0.0.1
  login_port:
    description: Port of the server.
    type: int
    default: 5432
  login_user:
    description: Superuser to connect as.
    type: str
    default: postgres
  login_password:
    description: Password of O(login_user).
    type: str
  login_db:
    description: Database to connect to.
    type: str
    default: postgres
  connect_timeout:
    description: Seconds to wait for each connection attempt.
    type: int
    default: 5
requirements:
  - psycopg2
"""
