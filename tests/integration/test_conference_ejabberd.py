#!/usr/bin/python3
"""The conference story of test_conference.py (media among participants, source-add and
-remove, screen share, hostile Jingle, a text-only occupant, kill -9 failover, kick, restart)
with ejabberd 23.01 as the XMPP server: the focus and both bridges are ejabberd_service
components, the participants log in to ejabberd's c2s."""

from conclave_harness import tap
from conclave_harness.ejabberd import Ejabberd
from test_conference import Conference


class ConferenceEjabberd(Conference):
    server_class = Ejabberd


if __name__ == '__main__':
    tap.main(ConferenceEjabberd)
