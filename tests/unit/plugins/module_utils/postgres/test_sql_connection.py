"""Unit tests for postgres/sql.py's connection options: community.postgresql's names and aliases, libpq's PG* defaults."""

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import CONNECTION_SPEC, conn_params


def validated(**given):
    result = ArgumentSpecValidator(CONNECTION_SPEC).validate(given)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def test_nothing_set_and_no_environment_gives_our_defaults():
    assert conn_params(validated(), environ={}) == {
        "host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres", "connect_timeout": 5}


def test_unset_options_take_the_pg_variables_libpq_reads():
    environ = {"PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "ops", "PGDATABASE": "app",
               "PGCONNECT_TIMEOUT": "2", "PGPASSWORD": "from-env"}
    conn = conn_params(validated(), environ=environ)
    assert conn == {"host": "db.internal", "port": 6432, "user": "ops", "dbname": "app", "connect_timeout": 2}
    # the password and TLS settings are left to libpq, which reads PGPASSWORD/~/.pgpass/PGSSLMODE itself
    assert "password" not in conn and "sslmode" not in conn


def test_given_options_win_over_the_environment():
    conn = conn_params(validated(login_host="10.0.0.5", login_port=5433, login_user="admin", login_password="s3cret",
                                 login_db="postgres", connect_timeout=9), environ={"PGHOST": "x", "PGPORT": "1"})
    assert conn == {"host": "10.0.0.5", "port": 5433, "user": "admin", "password": "s3cret", "dbname": "postgres",
                    "connect_timeout": 9}


def test_community_postgresql_aliases_and_tls_options():
    params = validated(host="10.0.0.5", port=5433, login="admin", ssl_mode="verify-full",
                       ssl_rootcert="/etc/ssl/pg-ca.pem", ssl_cert="/etc/ssl/c.pem", ssl_key="/etc/ssl/c.key")
    conn = conn_params(params, environ={})
    assert (conn["host"], conn["port"], conn["user"]) == ("10.0.0.5", 5433, "admin")
    assert (conn["sslmode"], conn["sslrootcert"], conn["sslcert"], conn["sslkey"]) == (
        "verify-full", "/etc/ssl/pg-ca.pem", "/etc/ssl/c.pem", "/etc/ssl/c.key")


def test_the_unix_socket_directory_wins_over_the_host():
    assert conn_params(validated(login_host="10.0.0.5", unix_socket="/run/postgresql"), environ={})["host"] == \
        "/run/postgresql"


def test_overrides_replace_the_resolved_values():
    conn = conn_params(validated(login_port=5432), environ={}, host="127.0.0.2", port=5499)
    assert (conn["host"], conn["port"]) == ("127.0.0.2", 5499)


def test_a_bad_ssl_mode_is_refused_by_the_spec():
    result = ArgumentSpecValidator(CONNECTION_SPEC).validate({"ssl_mode": "always"})
    assert "value of ssl_mode must be one of: allow, disable, prefer, require, verify-ca, verify-full" in \
        " ".join(result.error_messages)


@pytest.mark.parametrize("variable,option", [("PGPORT", "login_port"), ("PGCONNECT_TIMEOUT", "connect_timeout")])
def test_a_pg_variable_that_is_not_a_number_is_named(variable, option):
    with pytest.raises(PostgresError, match="%s='five' is not a whole number; unset it or set %s" % (variable, option)):
        conn_params(validated(), environ={variable: "five"})


def test_the_password_is_no_log():
    assert CONNECTION_SPEC["login_password"]["no_log"] is True
