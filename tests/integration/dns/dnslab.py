"""Constants and the lab view shared by the DNS integration tests (imported by name, unlike conftest)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if os.path.join(REPO, "lab") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "lab"))
import labenv  # noqa: E402,F401  (re-exported)

ZONE = "lab.example."
APP_RECORDS = [("app.lab.example.", "A"), ("app.lab.example.", "AAAA"), ("www.lab.example.", "CNAME")]
