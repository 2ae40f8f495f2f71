"""Unit tests for the pg_upgrade failure summary (module_utils/postgres/host/upgrade_output.py).

The fixtures are what pg_upgrade 18.6 really printed and logged in the lab, upgrading a 15.17 cluster
(fixtures/pg_upgrade/<case>/: stdout.txt and the pg_upgrade_output.d/ it left behind, dumps left out):

- restore_fails: a view on pg_stat_bgwriter.checkpoints_timed (gone in 17); --check passes, the
  schema restore fails (--jobs 1).
- restore_fails_parallel: the same in database appdb with --jobs 2 and a second, larger database
  whose restore pg_upgrade kills: pg_upgrade points at that database's log ("terminating
  connection"), not at the one that failed.
- check_library_missing: --check against a live server using pgcrypto, which the 18 build lacks
  (pg_upgrade's server log also holds its normal probe: lock file "postmaster.pid" already exists).
- check_reg_column: --check with a regproc column.
"""

import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import upgrade
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import upgrade_output

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pg_upgrade")


def _explain(case):
    folder = os.path.join(FIXTURES, case)
    with open(os.path.join(folder, "stdout.txt")) as handle:
        output = handle.read()
    # the runbook calls it through upgrade.py (the work dir is pg_upgrade's cwd: nothing of it is kept here)
    return upgrade.explain_failure(os.path.join(folder, "no-work-dir"), folder, output)


@pytest.mark.parametrize("case, expected", [
    ("restore_fails", [
        "Restoring database schemas in the new cluster: failed",
        "database postgres, VIEW bgwriter_report: column pg_stat_bgwriter.checkpoints_timed does not exist",
    ]),
    ("restore_fails_parallel", [
        "Restoring database schemas in the new cluster: failed",
        "database appdb, VIEW bgwriter_report: column pg_stat_bgwriter.checkpoints_timed does not exist",
    ]),
    ("check_library_missing", [
        "Checking for presence of required libraries: fatal",
        "Your installation references loadable libraries that are missing from the new installation. You can add "
        "these libraries to the new installation, or remove the functions using them from the old installation.",
        'loadable_libraries.txt: could not load library "$libdir/pgcrypto": ERROR: could not access file '
        '"$libdir/pgcrypto": No such file or directory / In database: postgres',
    ]),
    ("check_reg_column", [
        "Checking data type usage: failed check: Checking for reg* data types in user tables",
        "Data type checks failed: Your installation contains one of the reg* data types in user tables. These data "
        "types reference system OIDs that are not preserved by pg_upgrade, so this cluster cannot currently be "
        "upgraded. You can drop the problem columns and restart the upgrade.",
        "tables_using_reg.txt: In database: postgres / public.handlers.fn",
    ]),
])
def test_the_summary_is_the_lines_that_explain_the_failure(case, expected):
    assert _explain(case) == expected


@pytest.mark.parametrize("case", sorted(os.listdir(FIXTURES)))
@pytest.mark.parametrize("noise", [
    " ok",                                      # checks that passed
    "*failure*", "Failure, exiting",            # pg_upgrade's markers, no reason in them
    "the probable cause of the failure",        # half of a wrapped sentence
    'lock file "postmaster.pid" already exists',  # the live-server probe of every --check
    "terminating connection due to administrator command",  # a job killed after the real error
    "child process exited abnormally",
    "command:",                                 # the commands pg_upgrade logged
    "pg_upgrade_output.d/",                     # paths instead of what the files say
])
def test_the_summary_leaves_out_what_every_run_prints(case, noise):
    for reason in _explain(case):
        assert noise not in reason, reason


def test_a_log_error_said_twice_is_given_once():
    reasons = _explain("restore_fails")
    assert sum("checkpoints_timed does not exist" in r for r in reasons) == 1  # server log and pg_restore's log


def test_without_output_or_logs_it_still_says_something(tmp_path):
    assert upgrade_output.explain_failure(str(tmp_path), str(tmp_path), "") == [
        "pg_upgrade printed nothing; see its logs in %s" % os.path.join(str(tmp_path), "pg_upgrade_output.d")]
    assert upgrade_output.explain_failure(str(tmp_path), str(tmp_path), "could not open version file\n") == [
        "could not open version file"]


def test_reasons_are_bounded(tmp_path):
    output = "\n".join("Checking thing %d%s fatal" % (i, " " * 40) for i in range(30)) + "\n" + "x" * 5000
    reasons = upgrade_output.explain_failure(str(tmp_path), str(tmp_path), output)
    assert len(reasons) == upgrade_output.MAX_REASONS
    assert all(len(r) <= upgrade_output.MAX_REASON_CHARS for r in reasons)
