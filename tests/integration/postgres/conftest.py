"""Fixtures for the Postgres runbook tests; the helpers live in pglab.py."""

import os

import labenv
import pytest

from pglab import REPO, PgLab


@pytest.fixture(scope="session")
def pg_lab(lab_up, tmp_path_factory):
    lab_up("postgres")
    env = {}
    with open(os.path.join(REPO, ".lab", "postgres", "env")) as handle:
        for line in handle:
            if "=" in line:
                key, _, value = line.strip().partition("=")
                env[key] = value
    # One Postgres test session at a time on the shared lab pair (another make test may be running):
    # a reset or a switchover of the other session would pull the pair from under a test.
    with labenv.held("postgres", "tests.lock"):
        yield PgLab(env, str(tmp_path_factory.mktemp("pg-reports")))


@pytest.fixture
def start_state(pg_lab, tmp_path):
    """The lab in its starting state before the test, and put back after it. Its runs report to
    the test's own folder (journals, reports, downtime ledger), not to the checkout's reports/."""
    if not pg_lab.is_start_state():
        pg_lab.reset()
    reports = tmp_path / "reports"
    reports.mkdir()
    yield pg_lab.with_reports(str(reports))
    if not pg_lab.is_start_state():
        pg_lab.reset()
