"""Lab time profile: how long the simulated cloud takes to do things.

The values come from the lab's profiles (lab/labenv.py); the defaults below are only used
while that file is missing (or for a key it does not define), and every value can be
overridden with an environment variable of the same name.
"""

import os
import sys

# Fast fallbacks (seconds): enough for tests to see not_ready -> ready transitions.
DEFAULTS = {
    "NODE_PROVISION_SECONDS": 3.0,    # a new instance (pool create/resize) joins as a Ready Node
    "NODE_RECYCLE_SECONDS": 4.0,      # a recycled node's replacement instance joins
    "NODE_REPLACE_SECONDS": 20.0,     # a deleted instance's replacement joins (after NotReady)
    "NODE_REBOOT_SECONDS": 3.0,       # reboot: heartbeat stops, then resumes
    "NODE_BOOT_SECONDS": 2.0,         # boot of an offline instance
    "NODE_SHUTDOWN_SECONDS": 1.0,     # shutdown: running -> offline
}


def _lab_dir():
    return os.environ.get("LAB_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def _from_labenv(profile_name):
    """Ask lab/labenv.py for the profile; any failure means 'not there yet'."""
    lab_dir = _lab_dir()
    if lab_dir not in sys.path:
        sys.path.insert(0, lab_dir)
    try:
        import labenv  # pylint: disable=import-outside-toplevel
    except Exception:  # noqa: BLE001 - labenv may be missing or mid-edit
        return {}
    for name in ("time_profile", "profile_values", "load_profile", "profile"):
        func = getattr(labenv, name, None)
        if callable(func):
            try:
                values = func(profile_name) if profile_name else func()
            except TypeError:
                try:
                    values = func()
                except Exception:  # noqa: BLE001
                    continue
            except Exception:  # noqa: BLE001
                continue
            if isinstance(values, dict):
                return values
    return {}


def load(profile_name=None):
    """Return {KEY: float seconds} for every key in DEFAULTS."""
    profile_name = profile_name or os.environ.get("LAB_PROFILE") or "fast"
    found = _from_labenv(profile_name)
    values = {}
    for key, default in DEFAULTS.items():
        raw = os.environ.get(key, found.get(key, default))
        try:
            values[key] = float(raw)
        except (TypeError, ValueError):
            values[key] = default
    if "NODE_REPLACE_SECONDS" not in found and "NODE_REPLACE_SECONDS" not in os.environ:
        # The replacement must come after the controllers have seen the node NotReady.
        grace = found.get("NODE_MONITOR_GRACE_SECONDS") or found.get("NODE_MONITOR_GRACE_PERIOD")
        try:
            values["NODE_REPLACE_SECONDS"] = max(values["NODE_REPLACE_SECONDS"], float(grace) * 2)
        except (TypeError, ValueError):
            pass
    return values
