"""Fixtures for the Postgres runbook tests; the helpers live in pglab.py."""

import os

import pytest

from pglab import REPO, PgLab


@pytest.fixture(scope="session")
def pg_lab(lab_up):
    lab_up("postgres")
    env = {}
    with open(os.path.join(REPO, ".lab", "postgres", "env")) as handle:
        for line in handle:
            if "=" in line:
                key, _, value = line.strip().partition("=")
                env[key] = value
    return PgLab(env)


@pytest.fixture
def start_state(pg_lab):
    """The lab in its starting state before the test, and put back after it."""
    if not pg_lab.is_start_state():
        pg_lab.reset()
    yield pg_lab
    if not pg_lab.is_start_state():
        pg_lab.reset()
