#!/usr/bin/python3
"""The MUC suite (muc_suite.py) against a real Prosody."""

from conclave_harness import tap
from conclave_harness.prosody import Prosody
from muc_suite import build

if __name__ == '__main__':
    tap.main(*build(Prosody, 'p'))
