"""Helpers shared by the packaging tests (kept out of conftest.py: several conftest modules exist)."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")


def run(argv, **kwargs):
    """Run a tool; on failure show its output in the assertion."""
    kwargs.setdefault("cwd", REPO)
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, "%s exited %d\n%s\n%s" % (" ".join(argv), result.returncode,
                                                            result.stdout[-4000:], result.stderr[-4000:])
    return result
