#!/usr/bin/python3
"""Flood benchmark: one anonymous user sends groupchat messages as fast as it can into a room
of 20 through a private Prosody (rate limits off) into conclave-focus, while another client
joins a fresh room every --probe-interval seconds (see README.md in this folder).

Runs the flood with the focus's per-session stanza limit on (default 50/s) and off, each on a
fresh Prosody and focus, and reports per run: seconds until every message was delivered or
refused, deliveries counted at the receivers, refusals counted by the focus, errors the
flooder heard (and those the focus suppressed), join latency of other rooms (p50/p95/max) and
the focus's RSS before and at its peak. Prints one JSON object at the end.

The scenario itself is tests/integration/test_flood.py's (its CI run is the same flood,
smaller). Everything started here stops when the script ends.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))


def log(msg, *args):
    sys.stderr.write('[bench] ' + (msg % args if args else msg) + '\n')
    sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--focus', default=os.path.join(ROOT, 'build', 'focus', 'conclave-focus'),
                        help='the conclave-focus binary to measure')
    parser.add_argument('--messages-limited', type=int, default=100000,
                        help='messages in the flood with the rate limit on (0: skip)')
    parser.add_argument('--messages-unlimited', type=int, default=20000,
                        help='messages in the flood with the rate limit off (0: skip)')
    parser.add_argument('--room-size', type=int, default=20)
    parser.add_argument('--probe-interval', type=float, default=2.0,
                        help='seconds between joins of other rooms')
    parser.add_argument('--timeout', type=float, default=600.0)
    parser.add_argument('--focus-config', default='',
                        help='extra lines for the focus configuration')
    args = parser.parse_args()
    if not os.access(args.focus, os.X_OK):
        parser.error(f'{args.focus} is not an executable conclave-focus (build first)')
    os.environ['CONCLAVE_FOCUS'] = os.path.abspath(args.focus)

    import test_flood  # noqa: E402  (reads CONCLAVE_FOCUS when imported)
    from conclave_harness import procs  # noqa: E402

    results = {}
    for name, limit, messages in (('limit_on', 50, args.messages_limited),
                                  ('limit_off', 0, args.messages_unlimited)):
        if messages <= 0:
            continue
        server, focus = test_flood.start_stack(limit, args.focus_config)
        try:
            log('%s: %d messages into a room of %d', name, messages, args.room_size)
            results[name] = test_flood.run_flood(server, focus, messages,
                                                 room_size=args.room_size,
                                                 probe_interval=args.probe_interval,
                                                 timeout=args.timeout, log=log)
            results[name]['exit_status'] = focus.stop(timeout=30.0)
        finally:
            procs.stop(focus.proc, 5.0)
            server.stop()
        r = results[name]
        log('%s: %s in %.1f s: delivered %d, refused %d (flooder heard %d errors); joins p95 '
            '%s s, max %s s; RSS %d -> peak %d KiB', name, 'settled' if r['settled'] else
            'NOT settled', r['seconds'], r['delivered_min'], r['refused'],
            r['errors_heard_by_flooder'], r['join_p95_s'], r['join_max_s'], r['rss_before_kib'],
            r['rss_peak_kib'])
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
