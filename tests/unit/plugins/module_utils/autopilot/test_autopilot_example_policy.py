"""The example inventory's policy and the README's policy block are valid and say the same."""

import os
import re

import yaml

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
EXAMPLE = os.path.join(REPO, "inventories", "example", "group_vars", "all", "autopilot.yml")


def test_example_policy_is_valid_and_names_every_top_level_key():
    with open(EXAMPLE) as handle:
        doc = yaml.safe_load(handle)["autopilot_policy"]
    assert sorted(doc) == sorted(policy.TOP_KEYS)
    out = policy.validate(doc)
    assert out["components"]["lke_node_patch"]["patch"] == "auto"


def test_readme_policy_block_is_the_example():
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    section = readme.split("## The update autopilot", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    with open(EXAMPLE) as handle:
        assert yaml.safe_load(block) == yaml.safe_load(handle)
