"""Every Molecule scenario starts from the seeded lab, whatever an earlier run left behind.

The scenarios drive the shared lab with Molecule's unmanaged driver: there is no create/destroy,
so Molecule's state file (kept between runs under ~/.ansible/tmp) decides whether `prepare`
runs, and a second run on the same machine skipped it. CI found that (an earlier run's report
was still in the scenario's directory). Resetting in `cleanup`, run first and last, does not
depend on that state.
"""

import glob
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCENARIOS = sorted(glob.glob(os.path.join(REPO, "molecule", "*", "molecule.yml")))


def test_every_runbook_has_a_scenario():
    names = {os.path.basename(os.path.dirname(p)) for p in SCENARIOS}
    assert {"upgrade-cluster", "upgrade-postgres", "dns-migration", "check-certificates",
            "node-failure-drill"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_scenario_resets_the_lab_before_converge_without_prepare(path):
    with open(path) as handle:
        sequence = yaml.safe_load(handle)["scenario"]["test_sequence"]
    assert "prepare" not in sequence, "prepare is skipped when a stale state file says 'prepared'"
    assert "cleanup" in sequence[:sequence.index("converge")], sequence
    assert sequence[-1] == "cleanup", sequence
    assert os.path.exists(os.path.join(os.path.dirname(path), "cleanup.yml"))
