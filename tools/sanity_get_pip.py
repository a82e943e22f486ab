"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip into its venvs.

ansible-test fetches that script from a host outside the package registries, which this
project's machines cannot reach. It only needs "a script that installs these pip packages
into the running interpreter": pip bundled with Python (ensurepip), then pip itself installs
the exact versions ansible-test asked for, from PyPI.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip's own switches; pip install has no such options, and installs neither package unasked.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# ansible-test runs pip with a filtered environment (PIP_CERT and friends are dropped). Where the
# machine reaches the registry through a private CA, keep using it: the venv's own pip.conf.
CA_BUNDLE = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
if os.path.isfile(CA_BUNDLE):
    with open(os.path.join(sys.prefix, "pip.conf"), "w", encoding="utf-8") as config:
        config.write("[global]\ncert = %s\n" % CA_BUNDLE)

ensurepip.bootstrap()
# ensurepip points PIP_CONFIG_FILE at os.devnull for its own run; the install below needs the config.
os.environ.pop("PIP_CONFIG_FILE", None)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments))
