"""Smoke queries against the lab's real primary: they run read-only, a writing one fails and names
itself, and the queries the roles and the lab inventory give are ones that only read."""

import os

import yaml

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql

from pglab import REPO

ROLES = ("postgres_minor_canary", "postgres_major_canary", "postgres_major_upgrade")


def _defaults(role):
    with open(os.path.join(REPO, "roles", role, "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)["%s_smoke_queries" % role]


def _lab_inventory():
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "postgres.yml")) as handle:
        return yaml.safe_load(handle)


def _rows(lab):
    return lab.query(lab.primary_port, "SELECT (SELECT max(id) FROM app.orders), (SELECT count(*) FROM app.orders),"
                                       " (SELECT count(*) FROM app.customers)", dbname="appdb")[0]


def test_a_writing_smoke_query_fails_naming_itself_and_writes_nothing(pg_lab):
    lab = pg_lab
    before = _rows(lab)
    writing = "SELECT app.place_order(1, 1.00) IS NOT NULL"  # the lab's plpgsql function inserts an order
    sneaky = "COMMIT; INSERT INTO app.customers (email) VALUES ('smoke-test@example.com')"  # a transaction of its own
    try:
        results = sql.smoke(lab.conn(lab.primary_port, "appdb"), ["SELECT 1", writing, sneaky, "SELECT count(*) FROM app.orders"])
        assert [r["ok"] for r in results] == [True, False, False, True], results
        for result, query in ((results[1], writing), (results[2], sneaky)):
            assert result["error"].startswith("smoke query %r writes (cannot execute INSERT in a read-only transaction)" % query)
            assert "READ ONLY transaction" in result["error"]
        assert _rows(lab) == before
    finally:  # had they written, the lab gets its start state back
        lab.query(lab.primary_port, "DELETE FROM app.orders WHERE id > %s", dbname="appdb", args=(before[0],))
        lab.query(lab.primary_port, "DELETE FROM app.customers WHERE email = 'smoke-test@example.com'", dbname="appdb")


def test_role_defaults_are_generic_and_read_only(pg_lab):
    lab = pg_lab
    queries = _defaults(ROLES[0])
    assert all(_defaults(role) == queries for role in ROLES[1:])  # one list, the same in the three roles
    for query in queries:
        assert "app." not in query and "pgbench" not in query, query  # nothing of the lab's own schema
    for dbname in ("postgres", "appdb"):  # they answer in any database
        results = sql.smoke(lab.conn(lab.primary_port, dbname), queries)
        assert all(r["ok"] for r in results), results


def test_the_lab_inventory_gives_the_lab_schema_queries_and_they_only_read(pg_lab):
    lab = pg_lab
    inventory = _lab_inventory()
    queries = inventory["postgres_major_canary_smoke_queries"]
    assert all(inventory["%s_smoke_queries" % role] == queries for role in ROLES)
    assert any("app." in q for q in queries) and not any("place_order" in q for q in queries)
    before = _rows(lab)
    results = sql.smoke(lab.conn(lab.primary_port, "appdb"), queries)
    assert all(r["ok"] for r in results), results
    assert _rows(lab) == before


def test_the_example_inventory_documents_them():
    with open(os.path.join(REPO, "inventories", "example", "group_vars", "postgres.yml")) as handle:
        text = handle.read()
    example = yaml.safe_load(text)
    for role in ROLES:
        assert example["%s_smoke_queries" % role], role
    assert "READ ONLY transaction" in text
