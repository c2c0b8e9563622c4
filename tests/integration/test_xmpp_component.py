#!/usr/bin/python3
"""Runs the C check of the component connection (xmpp-component-check) against a real
Prosody and passes its TAP through, so each of its cases counts."""

import os
import subprocess
import sys

from conclave_harness import procs
from conclave_harness.prosody import Prosody

CHECK = os.environ['CONCLAVE_XMPP_CHECK']


def main():
    prosody = Prosody(components={'a.localhost': 'secret-a', 'b.localhost': 'secret-b'})
    try:
        prosody.start()
        r = subprocess.run([CHECK, str(prosody.component_port), 'a.localhost', 'secret-a',
                            'b.localhost', 'secret-b'],
                           stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=120)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode != 0 and 'not ok' not in r.stdout:
            print(f'not ok 99 - xmpp-component-check exited {r.returncode}')
        return 1 if r.returncode else 0
    finally:
        prosody.stop()
        procs.cleanup_all()


if __name__ == '__main__':
    sys.exit(main())
