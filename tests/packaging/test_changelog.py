"""`make changelog` lints the fragments and renders CHANGELOG.rst from them without consuming them."""

import glob
import os
import re

import yaml

from packaging_helpers import REPO, run


def _entries():
    for path in sorted(glob.glob(os.path.join(REPO, "changelogs", "fragments", "*.y*ml"))):
        with open(path, encoding="utf-8") as handle:
            for section, items in (yaml.safe_load(handle) or {}).items():
                for item in items if isinstance(items, list) else [items]:
                    yield os.path.basename(path), section, item


def test_changelog_renders_every_fragment(tmp_path):
    fragments = sorted(os.listdir(os.path.join(REPO, "changelogs", "fragments")))
    out = tmp_path / "CHANGELOG.rst"
    run(["make", "-s", "changelog", "CHANGELOG_OUT=%s" % out])
    text = " ".join(out.read_text().split())
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    assert "v%s" % version in text
    for name, section, item in _entries():
        words = " ".join(str(item).split())[:60]
        assert words in text, "%s (%s) is not in the changelog: %s" % (name, section, words)
    # the fragments are still there for the real release
    assert sorted(os.listdir(os.path.join(REPO, "changelogs", "fragments"))) == fragments
    assert not re.search(r"\bERROR\b", text)
