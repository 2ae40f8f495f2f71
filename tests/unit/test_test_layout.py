"""The test tree has no __init__.py files, so pytest imports each test file by its basename:
two test files with the same name in different folders stop the whole session at collection
("import file mismatch"). Keep every test module's basename unique."""
import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_test_module_basename_is_unique():
    seen = collections.defaultdict(list)
    for root, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py") and (name.startswith("test_") or name == "conftest.py"):
                seen[name].append(os.path.relpath(os.path.join(root, name), TESTS))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1 and name != "conftest.py"}
    assert not clashes, "test modules share a basename (rename one): %s" % clashes
