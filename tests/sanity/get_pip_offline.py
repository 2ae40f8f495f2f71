"""Stand-in for pip's get-pip.py bootstrap script, for ansible-test on machines without internet.

ansible-test downloads get-pip.py from its own CI host to put pip into each sanity venv; only
PyPI is reachable here. This does the same job from the standard library's ensurepip, then
lets the bundled pip install the exact versions ansible-test asked for (from PyPI).
`make sanity` copies it to ~/.ansible/test/cache/get_pip_<version>.py when that file is missing.
"""

import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
# get-pip.py's own switches mean "do not also install setuptools/wheel"; pip does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel", "--no-pip"}
subprocess.check_call([sys.executable, "-m", "pip", "install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY])
