#!/usr/bin/python3
"""The monitoring files (deploy/monitoring/) against the daemons they watch. A real Prosody,
conclave-focus and conclave-bridge (recording on) run as in the conference tests, and their
GET /metrics give the metric names they export; the C sources give the names too (labelled
series exist from the start, so both lists must agree). Every expression of the Grafana
dashboard and of the alert rules may only use those names (and Prometheus's own `up`);
the dashboard's expressions are valid PromQL and the rules pass `promtool check rules`;
`promtool test rules` shows the main alerts fire on the series the daemons really export
and stay quiet when all is well."""

import json
import os
import re
import subprocess
import tempfile
import textwrap
import unittest

import yaml

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from conclave_daemons import BINARIES, Daemon
from conclave_media import parse_metrics

ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT',
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DASHBOARD = os.path.join(ROOT, 'deploy', 'monitoring', 'grafana-dashboard.json')
ALERTS = os.path.join(ROOT, 'deploy', 'monitoring', 'prometheus-alerts.yml')
FOCUS, BRIDGE = 'conference.localhost', 'bridge1.localhost'
PROMETHEUS_OWN = {'up'}
# Grafana's variables, replaced by what they stand for before PromQL is checked.
GRAFANA_VARS = {'$__rate_interval': '1m', '$focus_job': 'conclave-focus',
                '$bridge_job': 'conclave-bridge'}

PROMQL_WORDS = {
    # aggregations, their modifiers and binary operators
    'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile',
    'count_values', 'group', 'by', 'without', 'and', 'or', 'unless', 'on', 'ignoring',
    'group_left', 'group_right', 'bool', 'offset',
    # functions
    'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'abs', 'ceil', 'floor', 'round',
    'clamp', 'clamp_min', 'clamp_max', 'absent', 'absent_over_time', 'changes', 'resets',
    'max_over_time', 'min_over_time', 'avg_over_time', 'sum_over_time', 'count_over_time',
    'last_over_time', 'histogram_quantile', 'label_replace', 'label_join', 'vector', 'scalar',
    'time', 'timestamp', 'sort', 'sort_desc', 'predict_linear', 'holt_winters',
}


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings (label values)
    e = re.sub(r'\{[^}]*\}', '', e)                          # label matchers
    e = re.sub(r'\[[^\]]*\]', '', e)                         # ranges
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', r'\1', e)
    names = set()
    for m in re.finditer(r'(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?', e):
        word, call = m.group(1), m.group(2)
        if word in PROMQL_WORDS:
            continue
        if call:
            raise AssertionError(f'unknown function {word} in {expr}')
        if re.fullmatch(r'\d*[smhdwy]', word) or word in ('e', 'inf', 'nan', 'Inf', 'NaN'):
            continue
        names.add(word)
    return names


def exported(text):
    """Metric names in a Prometheus text exposition."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith('#'):
            names.add(re.match(r'[a-zA-Z_:][a-zA-Z0-9_:]*', line).group(0))
    return names


def source_names():
    """Every conclave_* name the C sources of the daemons register."""
    names = set()
    for sub in ('common', 'focus', 'bridge'):
        for dirpath, _, files in os.walk(os.path.join(ROOT, sub)):
            for f in files:
                if f.endswith('.c'):
                    with open(os.path.join(dirpath, f)) as fh:
                        names |= set(re.findall(r'"(conclave_[a-z0-9_]+)"', fh.read()))
    return names


def dashboard_exprs(dash):
    out = []

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get('panels', []))
    for p in panels(dash['panels']):
        for t in p.get('targets', []):
            out.append((p['title'], t['expr']))
    return out


def grafana_to_promql(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    if '$' in expr:
        raise AssertionError(f'unknown Grafana variable in {expr}')
    return expr


def promtool(*args, cwd=None):
    return subprocess.run(['promtool', *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


class Monitoring(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Prosody(components={FOCUS: 'f', BRIDGE: 'b1'})
        cls.server.start()
        cls.focus = cls.bridge = None
        keys = make_tempdir(prefix='conclave-monitoring-')
        pub = os.path.join(keys, 'recording.pub')
        subprocess.run([BINARIES['ctl'], 'recording', 'keygen',
                        os.path.join(keys, 'recording.key'), pub],
                       check=True, capture_output=True)
        recdir = os.path.join(keys, 'recordings')
        os.mkdir(recdir, 0o700)
        cls.focus = Daemon('focus', FOCUS, 'f', cls.server.component_port_for(FOCUS),
                           extra=f'[focus]\nbridges = {BRIDGE}\n'
                                 '[security]\nauthenticated_domains = localhost\n').start()
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'b1', cls.server.component_port_for(BRIDGE),
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 10}\nworkers = 1\n'
                                  f'[colibri]\ntrusted = {FOCUS}\n'
                                  f'[recording]\ndir = {recdir}\npublic_key = {pub}\n').start()
        cls.focus.wait_health(200, timeout=15)
        cls.bridge.wait_health(200, timeout=15)
        procs.wait_until(
            lambda: parse_metrics(cls.focus.metrics()).get('conclave_focus_bridges_available')
            == 1, timeout=20, message='the bridge never became available')
        cls.focus_text = cls.focus.metrics()
        cls.bridge_text = cls.bridge.metrics()
        cls.live = exported(cls.focus_text) | exported(cls.bridge_text)
        cls.sources = source_names()
        cls.known = cls.live | cls.sources | PROMETHEUS_OWN
        with open(DASHBOARD) as f:
            cls.dashboard = json.load(f)
        with open(ALERTS) as f:
            cls.alerts = yaml.safe_load(f)

    @classmethod
    def tearDownClass(cls):
        for d in (cls.focus, cls.bridge):
            if d is not None:
                d.stop()
        cls.server.stop()

    # -- what the daemons export --------------------------------------------------------

    def test_daemons_export_what_the_sources_register(self):
        for name in ('conclave_muc_rooms', 'conclave_muc_refusals_total',
                     'conclave_focus_bridges_available', 'conclave_focus_bridge_up'):
            self.assertIn(name, exported(self.focus_text))
        for name in ('conclave_bridge_stress_permille', 'conclave_bridge_rtp_forwarded_total',
                     'conclave_bridge_dropped_packets_total',
                     'conclave_bridge_recording_failures_total',
                     'conclave_bridge_worker_endpoints'):
            self.assertIn(name, exported(self.bridge_text))
        conclave_live = {n for n in self.live if n.startswith('conclave_')}
        self.assertLessEqual(conclave_live, self.sources,
                             'exported but not found in the sources (the source scan is '
                             'broken)')
        # Labelled series are registered up front, so nothing waits for an event: every
        # name in the sources is exported by a running focus or bridge.
        # The policy store's metrics exist only on a focus with [database] (the
        # policy-store integration test reads them there); each is documented.
        with open(os.path.join(ROOT, 'docs', 'configuration.md')) as f:
            config_doc = f.read()
        store_only = {n for n in self.sources if n.startswith('conclave_focus_store_')}
        for n in store_only:
            self.assertIn(n, config_doc)
        self.assertEqual(self.sources - conclave_live - store_only, set(),
                         'registered in the sources but not exported by either daemon')
        # The focus's view of the bridge carries the bridge's JID, never a room.
        self.assertIn(f'conclave_focus_bridge_up{{bridge="{BRIDGE}"}} 1', self.focus_text)

    def test_expression_parser(self):
        # The name extraction the checks below rely on.
        self.assertEqual(metric_names(
            'sum by (instance, reason) (rate(conclave_a_total{job="x",reason!="ok"}[5m]))'
            ' > 0.01 * sum without (worker) (conclave_b{x="sum(y)"}) and on (instance) up'),
            {'conclave_a_total', 'conclave_b', 'up'})
        with self.assertRaises(AssertionError):
            metric_names('nosuchfunction(conclave_a)')

    # -- the dashboard ------------------------------------------------------------------

    def test_dashboard_uses_real_metrics(self):
        exprs = dashboard_exprs(self.dashboard)
        self.assertGreaterEqual(len(exprs), 20)
        used = set()
        for title, expr in exprs:
            names = metric_names(expr)
            self.assertTrue(names, f'{title}: {expr} reads no metric')
            self.assertLessEqual(names, self.known, f'{title}: {expr}')
            used |= names
        # What the dashboard is for: each of these is on it.
        for name in ('conclave_muc_rooms', 'conclave_muc_occupants', 'conclave_muc_joins_total',
                     'conclave_muc_refusals_total', 'conclave_focus_bridges_available',
                     'conclave_bridge_worker_endpoints', 'conclave_bridge_worker_conferences',
                     'conclave_bridge_rtp_forwarded_total',
                     'conclave_bridge_dropped_packets_total', 'conclave_bridge_stress_permille',
                     'conclave_bridge_recordings_active',
                     'conclave_bridge_recording_failures_total'):
            self.assertIn(name, used)

    def test_dashboard_is_valid_promql_and_grafana(self):
        d = self.dashboard
        for key in ('title', 'uid', 'panels', 'schemaVersion', 'templating'):
            self.assertIn(key, d)
        ids = [p['id'] for p in d['panels']]
        self.assertEqual(len(ids), len(set(ids)), 'panel ids repeat')
        for p in d['panels']:
            g = p['gridPos']
            self.assertTrue(0 <= g['x'] and g['x'] + g['w'] <= 24, p['title'])
            if p['type'] != 'row':
                self.assertEqual(p['datasource'], {'type': 'prometheus',
                                                   'uid': '${datasource}'}, p['title'])
        variables = {v['name'] for v in d['templating']['list']}
        self.assertEqual(variables, {'datasource', 'focus_job', 'bridge_job'})
        # PromQL syntax: every expression as a recording rule, through promtool.
        rules = {'groups': [{'name': 'dashboard', 'rules': [
            {'record': f'dashboard:expr{i}', 'expr': grafana_to_promql(e)}
            for i, (_, e) in enumerate(dashboard_exprs(d))]}]}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'dashboard-rules.yml')
            with open(path, 'w') as f:
                yaml.safe_dump(rules, f)
            r = promtool('check', 'rules', path)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    # -- the alert rules ----------------------------------------------------------------

    def test_alert_rules_pass_promtool(self):
        r = promtool('check', 'rules', ALERTS)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('SUCCESS', r.stdout)

    def test_alerts_use_real_metrics(self):
        alerts = {}
        for g in self.alerts['groups']:
            for rule in g['rules']:
                alerts[rule['alert']] = rule
                names = metric_names(rule['expr'])
                self.assertTrue(names)
                self.assertLessEqual(names, self.known, rule['alert'])
                self.assertIn(rule['labels']['severity'], ('warning', 'critical'))
                self.assertIn('summary', rule['annotations'])
        wanted = {
            'ConclaveDaemonDown': 'up',
            'ConclaveNoHealthyBridge': 'conclave_focus_bridges_available',
            'ConclaveBridgeStressHigh': 'conclave_bridge_stress_permille',
            'ConclaveBridgePacketDropsHigh': 'conclave_bridge_dropped_packets_total',
            'ConclaveRefusalSpike': 'conclave_muc_refusals_total',
            'ConclaveRecordingFailures': 'conclave_bridge_recording_failures_total',
        }
        for alert, name in wanted.items():
            self.assertIn(alert, alerts)
            self.assertIn(name, metric_names(alerts[alert]['expr']))
        self.assertRegex(alerts['ConclaveDaemonDown']['expr'], r'\bup\{[^}]*\} == 0')

    def test_alerts_fire_on_the_daemons_series(self):
        # The series are the ones the running daemons export (labels included), so a
        # label or job the rules expect and the daemons do not have would keep them quiet.
        focus = parse_metrics(self.focus_text)
        bridge = parse_metrics(self.bridge_text)

        def series(values, name, job, instance):
            keys = [k for k in values if k == name or k.startswith(name + '{')]
            self.assertTrue(keys, name)
            key = keys[0]
            labels = key[len(name) + 1:-1] if '{' in key else ''
            extra = f',{labels}' if labels else ''
            return f'{name}{{job="{job}",instance="{instance}"{extra}}}'

        avail = series(focus, 'conclave_focus_bridges_available', 'conclave-focus', 'f:9471')
        stress = series(bridge, 'conclave_bridge_stress_permille', 'conclave-bridge', 'b:9472')
        failures = 'conclave_bridge_recording_failures_total{job="conclave-bridge",' \
                   'instance="b:9472",reason="disk_full"}'
        self.assertIn(failures.replace('job="conclave-bridge",instance="b:9472",', ''),
                      self.bridge_text)
        test = textwrap.dedent(f'''\
            rule_files: [rules.yml]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'up{{job="conclave-bridge",instance="b:9472"}}'
                    values: '1 1 0 0 0 0 0'
                  - series: '{avail}'
                    values: '1 1 0 0 0 0 0'
                  - series: '{stress}'
                    values: '100 950 950 950 950 950 950 950'
                  - series: '{failures}'
                    values: '0 0 0 1 1 1 1'
                alert_rule_test:
                  - eval_time: 1m
                    alertname: ConclaveDaemonDown
                    exp_alerts: []
                  - eval_time: 1m
                    alertname: ConclaveNoHealthyBridge
                    exp_alerts: []
                  - eval_time: 5m
                    alertname: ConclaveDaemonDown
                    exp_alerts:
                      - exp_labels: {{severity: critical, job: conclave-bridge, instance: "b:9472"}}
                  - eval_time: 5m
                    alertname: ConclaveNoHealthyBridge
                    exp_alerts:
                      - exp_labels: {{severity: critical, instance: "f:9471"}}
                  - eval_time: 7m
                    alertname: ConclaveBridgeStressHigh
                    exp_alerts:
                      - exp_labels: {{severity: warning, job: conclave-bridge, instance: "b:9472"}}
                  - eval_time: 5m
                    alertname: ConclaveRecordingFailures
                    exp_alerts:
                      - exp_labels: {{severity: critical, instance: "b:9472", reason: disk_full}}
            ''')
        with tempfile.TemporaryDirectory() as tmp:
            # The rules as shipped, but for their annotations (prose, compared verbatim by
            # promtool): what fires, when and with which labels is what is tested.
            rules = json.loads(json.dumps(self.alerts))
            for g in rules['groups']:
                for rule in g['rules']:
                    rule.pop('annotations', None)
            with open(os.path.join(tmp, 'rules.yml'), 'w') as f:
                yaml.safe_dump(rules, f)
            path = os.path.join(tmp, 'alerts-test.yml')
            with open(path, 'w') as f:
                f.write(test)
            r = promtool('test', 'rules', path, cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn('SUCCESS', r.stdout)


if __name__ == '__main__':
    tap.main(Monitoring)
