"""The CloudNativePG backend's modules against the real operator and real PostgreSQL pods on the
lab's real node: health as the operator reports it, refusals before any change, a canary cloned
with pg_basebackup from production, and the real minor update (replicas first, then a switchover)
with a writer committing rows throughout: no committed row lost, the write downtime printed."""


from oplab import Writer


def test_health_and_refusals_change_nothing(op_lab):
    info = op_lab.module("postgres_cnpg_cluster_info", namespace=op_lab.ns, name="pg")["cluster"]
    assert info["healthy"], info["problems"]
    assert info["version"] == "15.18" and info["instances"] == 2 and info["ready_instances"] == 2
    assert set(info["replication_lag_bytes"]) == {p["name"] for p in info["pods"]} - {info["current_primary"]}

    missing = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="nope",
                            image=op_lab.node["NODE_IMAGE_PG_MINOR"])
    assert missing.get("failed") and "Cluster %s/nope does not exist" % op_lab.ns in missing["msg"]

    wrong = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                          image=op_lab.node["NODE_IMAGE_PG_MAJOR"], upgrade="minor")
    assert wrong.get("failed") and "keeps the major" in wrong["msg"] and "use postgres_upgrade=major" in wrong["msg"]

    planned = op_lab.module("postgres_cnpg_image_update", check=True, namespace=op_lab.ns, name="pg",
                            image=op_lab.node["NODE_IMAGE_PG_MINOR"])
    assert planned["changed"] and not planned["patched"], planned
    assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_OLD"]


def test_canary_clone_matches_production_and_is_removed(op_lab):
    with op_lab.connect("pg") as conn:
        conn.execute("create table if not exists facts (id int primary key, v text)")
        conn.execute("insert into facts select g, md5(g::text) from generate_series(1, 500) g on conflict do nothing")
        prod = conn.execute("select count(*), md5(string_agg(v, ',' order by id)) from facts").fetchone()
    made = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                         image=op_lab.node["NODE_IMAGE_PG_MINOR"], timeout=900)
    assert made["changed"] and made["cluster"]["healthy"], made
    try:
        with op_lab.connect("pg-canary") as canary:
            assert canary.execute("show server_version").fetchone()[0].startswith("15.20")
            assert canary.execute("select count(*), md5(string_agg(v, ',' order by id)) from facts").fetchone() == prod
        again = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                              image=op_lab.node["NODE_IMAGE_PG_MINOR"])
        assert not again["changed"]
        refused = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg-canary", name="pg", state="absent")
        assert refused.get("failed") and "not a canary of pg-canary" in refused["msg"]
    finally:
        gone = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                             state="absent", timeout=600)
    assert gone["changed"] and op_lab.get("pg-canary") is None
    assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_OLD"]


def test_minor_update_with_a_writer_loses_no_committed_row(op_lab):
    first_primary = op_lab.status("pg")["currentPrimary"]
    writer = Writer(op_lab, "pg").start()
    try:
        result = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                               image=op_lab.node["NODE_IMAGE_PG_MINOR"], upgrade="minor", timeout=1200)
    finally:
        writer.stop()
    assert result.get("changed") and result["patched"] and result["after"]["healthy"], result
    assert result["after"]["version"] == "15.20"
    assert all(p["image"] == op_lab.node["NODE_IMAGE_PG_MINOR"] for p in result["after"]["pods"])
    # The primary was switched over to an updated replica, not restarted in place.
    assert op_lab.status("pg")["currentPrimary"] != first_primary
    assert len(writer.committed) > 20
    assert writer.missing() == []
    print("cnpg minor update: %d rows committed, %d failed attempts, longest write gap %.1f s"
          % (len(writer.committed), writer.errors, writer.longest_gap))
    with op_lab.connect("pg") as conn:
        assert conn.execute("show server_version").fetchone()[0].startswith("15.20")
    again = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                          image=op_lab.node["NODE_IMAGE_PG_MINOR"], upgrade="minor")
    assert not again["changed"] and not again["patched"]


