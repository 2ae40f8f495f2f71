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
    description:
      - Host name or address of the server (a path starting with C(/) is a socket directory).
      - If not set, the value of E(PGHOST) is used, else V(127.0.0.1).
    type: str
    aliases: [host]
  login_unix_socket:
    description:
      - Directory of the server's Unix domain socket; when set it is used instead of O(login_host).
    type: str
    aliases: [unix_socket]
  login_port:
    description:
      - Port of the server.
      - If not set, the value of E(PGPORT) is used, else V(5432).
    type: int
    aliases: [port]
  login_user:
    description:
      - Superuser to connect as.
      - If not set, the value of E(PGUSER) is used, else V(postgres).
    type: str
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user).
      - If not set, libpq itself looks at E(PGPASSWORD) and then C(~/.pgpass).
    type: str
  login_db:
    description:
      - Database to connect to.
      - If not set, the value of E(PGDATABASE) is used, else V(postgres).
    type: str
  ssl_mode:
    description:
      - Whether and how a TLS connection is negotiated with the server, as libpq's C(sslmode)
        (U(https://www.postgresql.org/docs/current/libpq-ssl.html)).
      - If not set, libpq uses E(PGSSLMODE), else V(prefer).
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the certificate authorities the server's certificate must be signed by (libpq's C(sslrootcert)).
      - If not set, libpq uses E(PGSSLROOTCERT), else C(~/.postgresql/root.crt) when it exists.
    type: path
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file (libpq's C(sslcert)); if not set, libpq uses E(PGSSLCERT).
    type: path
  ssl_key:
    description:
      - Private key file of O(ssl_cert) (libpq's C(sslkey)); if not set, libpq uses E(PGSSLKEY).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for each connection attempt.
      - If not set, the value of E(PGCONNECT_TIMEOUT) is used, else V(5).
    type: int
notes:
  - The option names and aliases are those of the community.postgresql modules, so one
    C(module_defaults) block can serve both collections' PostgreSQL tasks.
requirements:
  - psycopg2
"""

    #: The CloudNativePG Cluster a postgres_cnpg_* module acts on
    #: (module_utils/postgres/cloudnative_pg/cluster.py cluster_argument_spec).
    CNPG_CLUSTER = r"""
options:
  namespace:
    description: Namespace of the Cluster.
    type: str
    required: true
  name:
    description: Name of the Cluster.
    type: str
    required: true
requirements:
  - kubernetes
"""

    #: The production Cluster a throw-away clone is made of, and the clone: postgres_cnpg_canary and
    #: postgres_cnpg_rollback_clone (module_utils/postgres/cloudnative_pg/params.py CLONE_SPEC).
    CNPG_CLONE = r"""
options:
  namespace:
    description: Namespace of the production Cluster and of its clone.
    type: str
    required: true
  source:
    description:
      - Name of the production Cluster to clone. It is only read; the clone is bootstrapped with
        C(pg_basebackup) through its C(-rw) Service as C(streaming_replica), with its replication and CA Secrets.
    type: str
    required: true
  name:
    description: Name of the clone Cluster; it must differ from O(source).
    type: str
    required: true
requirements:
  - kubernetes
"""

    #: The replication lag a postgres_cnpg_* module tolerates
    #: (module_utils/postgres/cloudnative_pg/params.py LAG_SPEC).
    CNPG_LAG = r"""
options:
  max_lag_bytes:
    description:
      - A replica further behind its primary than this many bytes of WAL makes the Cluster unhealthy,
        and a change to an unhealthy Cluster is refused. V(-1) does not judge lag.
    type: int
    default: 16777216
"""

    #: The pg_upgrade options postgres_upgrade_check and postgres_upgrade share
    #: (module_utils/postgres/host/upgrade.py PG_UPGRADE_SPEC).
    PG_UPGRADE = r"""
options:
  old_bindir:
    description: Bindir of the old major (must also hold pg_controldata).
    type: path
    required: true
  new_bindir:
    description: Bindir of the new major (must hold pg_upgrade and initdb).
    type: path
    required: true
  old_data_dir:
    description: Data directory of the old cluster.
    type: path
    required: true
  old_major:
    description: Declared major of O(old_bindir); a mismatch is an error.
    type: int
  new_major:
    description: Declared major of O(new_bindir); a mismatch is an error.
    type: int
  transfer:
    description: pg_upgrade's transfer mode (the check tests the one the real run will use).
    type: str
    choices: [link, copy, clone]
    default: link
  jobs:
    description: pg_upgrade C(--jobs).
    type: int
    default: 1
  new_port:
    description: Port pg_upgrade starts the new cluster on while it works (a free port).
    type: int
    required: true
  socket_dir:
    description: Directory for pg_upgrade's temporary sockets (owned by O(os_user)).
    type: path
    required: true
  os_user:
    description: OS user that owns the data directories; commands run as this user when the module runs as root.
    type: str
    default: postgres
"""
