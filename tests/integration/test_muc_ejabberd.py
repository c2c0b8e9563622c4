#!/usr/bin/python3
"""The MUC suite (muc_suite.py) against a real ejabberd 23.01 (external component through
ejabberd_service)."""

from conclave_harness import tap
from conclave_harness.ejabberd import Ejabberd
from muc_suite import build

if __name__ == '__main__':
    tap.main(*build(Ejabberd, 'e'))
