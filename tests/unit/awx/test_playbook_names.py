"""Every runbook answers to `ansible-playbook fournines.runbooks.<name>` from an installed collection,
and the hyphenated paths that docs, AWX job templates and users' commands name keep working.

A playbook's fully qualified name cannot hold a hyphen, so each runbook file is named with
underscores and each hyphenated name is an alias: one play that only imports its runbook.
tests/packaging runs them all by FQCN from the built and installed tarball.
"""

import glob
import os

import pytest
from ansible.utils.collection_loader import AnsibleCollectionRef

import awx_model as m

# The hyphenated names the README, DESIGN, Molecule, AWX and users' commands have always used.
DOCUMENTED = ("upgrade-cluster", "upgrade-postgres", "dns-migration", "lower-dns-ttl", "restore-dns-ttl",
              "check-certificates", "node-failure-drill", "awx-configure")
PLAYBOOKS = sorted(os.path.relpath(p, m.REPO) for p in glob.glob(os.path.join(m.PLAYBOOK_DIR, "*.yml")))
RUNBOOK_FILES = [p for p in PLAYBOOKS if m.alias_target(p) is None]


def _stem(playbook):
    return os.path.basename(playbook)[:-len(".yml")]


@pytest.mark.parametrize("playbook", RUNBOOK_FILES)
def test_runbook_has_a_valid_fully_qualified_name(playbook):
    fqcn = "fournines.runbooks." + _stem(playbook)
    assert AnsibleCollectionRef.is_valid_fqcr(fqcn, "playbook"), (
        "%s cannot be run as `ansible-playbook %s` (not a valid playbook name); name the file with "
        "underscores and keep the old name as an alias that imports it" % (playbook, fqcn))


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_hyphenated_path_imports_its_runbook(name):
    playbook = "playbooks/%s.yml" % name
    assert os.path.isfile(os.path.join(m.REPO, playbook)), "%s is gone; docs and AWX name it" % playbook
    assert m.alias_target(playbook) == "playbooks/%s.yml" % name.replace("-", "_"), (
        "%s must be one play that only imports %s.yml" % (playbook, name.replace("-", "_")))


@pytest.mark.parametrize("playbook", [p for p in PLAYBOOKS if m.alias_target(p) is not None])
def test_alias_targets_a_runbook_of_the_same_name(playbook):
    target = m.alias_target(playbook)
    assert _stem(target) == _stem(playbook).replace("-", "_")
    assert target in RUNBOOK_FILES, "%s imports %s, which is no runbook file" % (playbook, target)


def test_runbook_playbooks_are_the_fqcn_files_without_awx_configure():
    assert m.runbook_playbooks() == [p for p in RUNBOOK_FILES if _stem(p) != "awx_configure"]
    assert "playbooks/upgrade_cluster.yml" in m.runbook_playbooks()


@pytest.mark.parametrize("jt", m.job_templates(), ids=[jt["name"] for jt in m.job_templates()])
def test_job_template_playbook_resolves_to_a_runbook(jt):
    """AWX runs the path it names (an alias is fine); the set_stats key follows the runbook's name.
    A playbook that has not landed yet is skipped with the file it waits for, as in test_awx_surveys
    (test_awx_autopilot pins the autopilot templates' path itself)."""
    if not os.path.isfile(os.path.join(m.REPO, jt["playbook"])):
        pytest.skip("%s is not there yet" % jt["playbook"])
    target = m.resolve_playbook(jt["playbook"])
    assert target in m.runbook_playbooks(), "%s names %s, which is no runbook" % (jt["name"], jt["playbook"])
    assert _stem(target) == _stem(jt["playbook"]).replace("-", "_")
