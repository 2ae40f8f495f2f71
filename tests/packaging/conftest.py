"""Fixtures for the packaging tests: the collection built once per session from the checkout."""

import glob
import os

import pytest
import yaml

from packaging_helpers import BIN, REPO, run


@pytest.fixture(scope="session")
def galaxy():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def tarball(tmp_path_factory, galaxy):
    """`ansible-galaxy collection build` of the checkout, into a temp dir (the tree is untouched)."""
    out = tmp_path_factory.mktemp("build")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), "."])
    found = glob.glob(str(out / "*.tar.gz"))
    assert [os.path.basename(f) for f in found] == ["%s-%s-%s.tar.gz" % (
        galaxy["namespace"], galaxy["name"], galaxy["version"])]
    return found[0]
