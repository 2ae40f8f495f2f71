"""Unit tests for postgres/compat.py: the extension and library verdicts both backends share."""

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import compat


def info(exts, preload=""):
    return {"extensions": exts, "settings": {"shared_preload_libraries": preload}}


def test_every_extension_and_library_provided_is_ok():
    found = compat.extension_findings(info({"app": [{"name": "pgcrypto", "version": "1.3"}]}, "pg_stat_statements"),
                                      ["plpgsql", "pgcrypto"], ["pg_stat_statements", "plpgsql"], "/new/lib")
    assert [f["check"] for f in found] == ["extension:app:pgcrypto", "library:pg_stat_statements"]
    assert all(f["ok"] and f["severity"] == "info" for f in found)


def test_missing_extension_and_library_are_errors_naming_them():
    found = compat.extension_findings(info({"app": [{"name": "vector", "version": "0.8.0"}],
                                            "postgres": [{"name": "plpgsql", "version": "1.0"}]},
                                           ' "auto_explain", timescaledb'),
                                      ["plpgsql"], ["auto_explain"], "image X")
    bad = [f for f in found if not f["ok"]]
    assert [f["check"] for f in bad] == ["extension:app:vector", "library:timescaledb"]
    assert all(f["severity"] == "error" for f in bad)
    assert "vector 0.8.0 in database app is NOT provided" in bad[0]["message"]
    assert "timescaledb is MISSING in the new pkglibdir image X" in bad[1]["message"]


def test_preloaded_libraries_parses_quotes_and_blanks():
    assert compat.preloaded_libraries({"shared_preload_libraries": '"a", b ,,'}) == ["a", "b"]
    assert compat.preloaded_libraries({}) == []
