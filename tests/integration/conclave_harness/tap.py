"""Run unittest TestCases and report in TAP (for meson's `protocol: 'tap'`).

Skips are reported as `not ok` on purpose: in this project a skipped
integration test is a test that did not prove anything.  No TAP `# SKIP`
directive is used, so no TAP consumer can turn it into a pass.
"""

import logging
import os
import sys
import unittest

__all__ = ['main', 'diag']

_tap_out = None  # the TAP stream while main() runs


def _clean(text):
    # '#' starts a TAP directive; newlines would end the line.
    return ' '.join(str(text).replace('#', '%23').split())


class _TapResult(unittest.TestResult):
    def __init__(self, out, planned):
        super().__init__()
        self.out = out
        self.planned = planned    # test ids in run order
        self.reported = set()
        self.num = 0
        self.bad = False
        self._current = None      # [ok, diagnostics, note] for running test

    def _emit(self, line):
        self.out.write(line + '\n')
        self.out.flush()

    def _diag(self, text):
        for line in text.rstrip('\n').split('\n'):
            self._emit('# ' + line)

    def _report(self, test_id, ok, diag='', note=''):
        self.num += 1
        self.reported.add(test_id)
        if not ok:
            self.bad = True
        self._emit('%s %d - %s%s' % ('ok' if ok else 'not ok', self.num,
                                     _clean(test_id),
                                     ' (%s)' % _clean(note) if note else ''))
        if diag:
            self._diag(diag)

    @staticmethod
    def _name(test):
        # "Class.test_name" (unittest ids carry the module too).
        return '%s.%s' % (type(test).__name__, test._testMethodName) \
            if isinstance(test, unittest.TestCase) else str(test)

    def _fail(self, test, err, header=''):
        # unittest's formatter hides its own frames from the traceback.
        text = header + self._exc_info_to_string(err, test)
        if self._current is not None and isinstance(test, unittest.TestCase):
            self._current[0] = False
            self._current[1] += text
        else:
            # setUpClass/tearDownClass/module fixture error: not a test.
            self.bad = True
            self._diag('error in %s:\n%s' % (test, text))

    def startTest(self, test):
        super().startTest(test)
        self._current = [True, '', '']
        sys.stderr.write('--- %s\n' % self._name(test))
        sys.stderr.flush()

    def stopTest(self, test):
        super().stopTest(test)
        ok, diag, note = self._current
        self._current = None
        self._report(self._name(test), ok, diag, note)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test, err, 'in %s:\n' % subtest._subDescription())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self._current is not None:
            self._current[0] = False
            self._current[2] = 'skipped: %s' % reason
        else:
            self.bad = True
            self._diag('skipped %s: %s' % (test, reason))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._current[0] = False
        self._current[2] = 'unexpected success'

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._current[2] = 'expected failure'

    def report_unrun(self):
        """Tests that never ran (e.g. setUpClass failed) must still show up
        in the plan, as failures."""
        for test_id in self.planned:
            if test_id not in self.reported:
                self._report(test_id, False, note='not run')


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def diag(text):
    """A TAP diagnostic line ('# ...') from inside a test, e.g. a measurement."""
    out = _tap_out or sys.stderr
    for line in str(text).rstrip('\n').split('\n'):
        out.write('# ' + line + '\n')
    out.flush()


def main(*testcase_classes):
    """Run the given TestCase classes (in order), print TAP, and exit with
    status 1 if anything failed, errored, was skipped or did not run."""
    # TAP owns the real stdout.  Point fd 1 at stderr so that stray prints
    # and child processes cannot corrupt the TAP stream.
    sys.stdout.flush()
    global _tap_out
    tap_out = _tap_out = os.fdopen(os.dup(1), 'w', buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    level = logging.DEBUG if os.environ.get('CONCLAVE_TEST_DEBUG') else \
        logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr,
                        format='%(asctime)s %(name)s %(levelname)s '
                               '%(message)s')

    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(c)
                               for c in testcase_classes)
    tests = list(_flatten(suite))
    # CONCLAVE_TEST_ONLY="Class.test_a,Class.test_b" runs just those cases (the
    # ThreadSanitizer build runs a few media cases this way); a name that matches no case
    # fails the run rather than passing with nothing tested.
    only = [n for n in os.environ.get('CONCLAVE_TEST_ONLY', '').split(',') if n]
    if only:
        names = {_TapResult._name(t) for t in tests}
        unknown = [n for n in only if n not in names]
        if unknown:
            tap_out.write('1..1\nnot ok 1 - CONCLAVE_TEST_ONLY names no case: %s\n'
                          % _clean(', '.join(unknown)))
            sys.exit(1)
        tests = [t for t in tests if _TapResult._name(t) in only]
        suite = unittest.TestSuite(tests)
    planned = [_TapResult._name(t) for t in tests]
    tap_out.write('1..%d\n' % len(tests))
    tap_out.flush()

    result = _TapResult(tap_out, planned)
    try:
        suite.run(result)
    finally:
        result.report_unrun()
        tap_out.flush()
    bad = result.bad or not tests
    sys.exit(1 if bad else 0)
