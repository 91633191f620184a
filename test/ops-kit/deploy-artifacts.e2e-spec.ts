import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfig, loadConfig } from '../../src/platform/config/index.js';
import { register as processRegistry } from 'prom-client';
import { Metrics } from '../../src/platform/observability/metrics.js';

/*
 * The operator kit in deploy/ is only useful if it matches the service: these checks break when a
 * metric is renamed, an alert loses its test, the unit stops verifying or the env file drifts from
 * .env.example. promtool and systemd-analyze are external tools: without them their checks skip,
 * except promtool under CI, where a missing tool fails.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const path = (p: string) => join(root, p);
const read = (p: string) => readFileSync(path(p), 'utf8');

// js-yaml arrives with eslint/@nestjs/swagger; a narrow type keeps this file independent of its typings
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

const RULES = 'deploy/prometheus/p28-rules.yml';
const RULE_TESTS = 'deploy/prometheus/p28-rules.test.yml';
const DASHBOARD = 'deploy/grafana/p28-dashboard.json';
const UNIT = 'deploy/systemd/p28-portfolio-risk-governor.service';
const ENV_FILE = 'deploy/systemd/p28-portfolio-risk-governor.env';
const ALERTMANAGER = 'deploy/alertmanager/alertmanager.yml';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    name?: string;
    alert_rule_test?: Array<{ alertname: string; eval_time: string; exp_alerts?: unknown[] }>;
    promql_expr_test?: Array<{ expr: string; eval_time: string; exp_samples?: unknown[] }>;
  }>;
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr?: string; datasource?: { uid?: string } }>;
  panels?: Panel[];
  fieldConfig?: {
    defaults?: { mappings?: Array<{ type: string; options?: Record<string, { text?: string }> }> };
  };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
  annotations: { list: Array<{ expr?: string; datasource?: { uid?: string } }> };
}

function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[], cwd = root) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: process.env, timeout: 60_000 });
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    output: `${r.stdout}${r.stderr}`,
  };
}

/** Metric names in a PromQL expression: string literals (label values such as
 *  reason="p28_budget_violation") are removed first so they are not mistaken for metrics. */
function metricNamesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...code.matchAll(/(?<![\w:])((?:p28|quantum|process|nodejs)_[A-Za-z0-9_]+)(?![\w:])/g)].map(
    (m) => m[1],
  );
}
const recordingNamesIn = (expr: string) =>
  [...expr.matchAll(/(?<![\w:])(p28:[A-Za-z0-9_:]+)(?![\w:])/g)].map((m) => m[1]);

/** Every panel, including the panels folded inside collapsed rows. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Grafana substitutes these before Prometheus sees the query. */
function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$__interval', '1m')
    .replaceAll('$job', 'p28-portfolio-risk-governor')
    .replaceAll('$symbol', '.*');
}

/** systemd's EnvironmentFile= syntax as used here: comment lines, blank lines, KEY=VALUE. */
function parseEnvFile(text: string): Array<{ line: number; key: string; value: string; raw: string }> {
  const out: Array<{ line: number; key: string; value: string; raw: string }> = [];
  text.split('\n').forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const eq = raw.indexOf('=');
    out.push({
      line: i + 1,
      key: eq < 0 ? raw : raw.slice(0, eq),
      value: eq < 0 ? '' : raw.slice(eq + 1),
      raw,
    });
  });
  return out;
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const rules = yaml.load(read(RULES)) as RuleFile;
const ruleTests = yaml.load(read(RULE_TESTS)) as RuleTestFile;
const dashboard = JSON.parse(read(DASHBOARD)) as Dashboard;
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r) => r.alert);
const records = allRules.filter((r) => r.record);
const alertNames = [...new Set(alerts.map((r) => r.alert as string))];
const dashboardExprs = [
  ...allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
  ...dashboard.annotations.list.map((a) => a.expr ?? ''),
].filter((e) => e.length > 0);

const hasPromtool = commandExists(process.env.PROMTOOL ?? 'promtool');
const hasAmtool = commandExists(process.env.AMTOOL ?? 'amtool');
const hasSystemdAnalyze = commandExists('systemd-analyze');

describe('deploy kit: Prometheus rules', () => {
  it.skipIf(!hasPromtool && !process.env.CI)(
    'deploy/prometheus/test.sh passes (promtool check rules + every rule unit test)',
    () => {
      const r = run('bash', [path('deploy/prometheus/test.sh')]);
      expect(r.status, r.output).toBe(0);
      expect(r.stdout).toContain('SUCCESS');
      expect(r.stdout).not.toContain('SKIP');
    },
  );

  it('render.sh makes every runbook_url absolute from the base given, and refuses a relative base', () => {
    const base = 'https://git.example.com/trading/p28/-/blob/main/docs';
    const r = run('bash', [path('deploy/prometheus/render.sh'), `${base}/`]);
    expect(r.status, r.stderr).toBe(0);
    const rendered = (yaml.load(r.stdout) as RuleFile).groups.flatMap((g) => g.rules);
    expect(rendered).toHaveLength(allRules.length);
    for (const a of rendered.filter((x) => x.alert)) {
      expect(a.annotations?.runbook_url).toBe(`${base}/runbook.md#${a.alert?.toLowerCase()}`);
    }
    expect(r.stdout).not.toContain('RUNBOOK_BASE_URL');
    for (const bad of ['', 'docs', '/docs', 'ftp://x/docs', "https://x/it's", 'https://x/a b']) {
      const refused = run('bash', [path('deploy/prometheus/render.sh'), bad]);
      expect(refused.status, `base ${JSON.stringify(bad)}`).toBe(2);
      expect(refused.stdout).toBe('');
    }
  });

  it('has the alerts the on-call relies on', () => {
    for (const name of [
      'P28LkgCacheInUse',
      'P28PortfolioStateTooOld',
      'P28BudgetLoopStalled',
      'P28GateFailOpenHigh',
      'P28EnforceWithStaleBudgets',
      'P28RedisWriteFailures',
      'P28ModeChanged',
      'P28BudgetTickOverrun',
      'P28NoLeader',
      'P28MultipleLeaders',
      'P28GateNotEnforcing',
      'P28StateLost',
      'P28LedgerEntriesMissing',
      'P28LedgerEntriesRejected',
      'P28LogsDropped',
    ]) {
      expect(alertNames, name).toContain(name);
    }
    expect(records.map((r) => r.record)).toContain('p28:gate_fail_open:rate5m');
    // the budget loop alert also covers the case where no replica exports the timestamp at all
    const stalled = alerts.filter((a) => a.alert === 'P28BudgetLoopStalled').map((a) => a.expr);
    expect(stalled.some((e) => /absent\(\s*p28_budget_loop_last_success_timestamp_seconds/.test(e))).toBe(
      true,
    );
  });

  it('gives every alert a severity, summary, description and its runbook anchor', () => {
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.length, `${a.alert} summary`).toBeGreaterThan(10);
      expect(a.annotations?.description?.length, `${a.alert} description`).toBeGreaterThan(40);
      // render.sh replaces the placeholder with an absolute base URL
      expect(a.annotations?.runbook_url, a.alert).toBe(
        `\${RUNBOOK_BASE_URL}/runbook.md#${a.alert?.toLowerCase()}`,
      );
    }
    expect(alerts.find((a) => a.alert === 'P28ModeChanged')?.labels?.severity).toBe('info');
  });

  it('tests every alert firing and silent, and every recording rule by value', () => {
    expect(ruleTests.rule_files).toContain('p28-rules.yml');
    const alertCases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames) {
      const cases = alertCases.filter((c) => c.alertname === name);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} has no test where it fires`,
      ).toBe(true);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} has no test where it stays silent`,
      ).toBe(true);
    }
    const exprCases = ruleTests.tests.flatMap((t) => t.promql_expr_test ?? []);
    for (const r of records) {
      const tested = exprCases.some((c) => recordingNamesIn(c.expr).includes(r.record as string));
      expect(tested, `recording rule ${r.record} has no promql_expr_test`).toBe(true);
      expect(
        exprCases.some(
          (c) => recordingNamesIn(c.expr).includes(r.record as string) && (c.exp_samples ?? []).length,
        ),
        `recording rule ${r.record} is never checked against a value`,
      ).toBe(true);
    }
    // every name in the tests exists in the rules, so a renamed alert cannot leave a dead test behind
    for (const c of alertCases)
      expect(alertNames, `test of unknown alert ${c.alertname}`).toContain(c.alertname);
  });

  it('uses only recording rules that it defines', () => {
    const defined = new Set(records.map((r) => r.record));
    for (const r of allRules) {
      for (const name of recordingNamesIn(r.expr))
        expect(defined, `${r.alert ?? r.record} uses ${name}`).toContain(name);
    }
  });

  it('keeps thresholds in step with the defaults they assume (interval, lease, gate timeout)', () => {
    const d = new AppConfig();
    const stalled = alerts.find((a) => a.alert === 'P28BudgetLoopStalled' && !a.expr.includes('absent'));
    expect(stalled?.expr).toMatch(new RegExp(`> ${3 * d.BUDGET_COMPUTE_INTERVAL_SEC}\\b`));
    const enforceStale = alerts.find((a) => a.alert === 'P28EnforceWithStaleBudgets');
    expect(enforceStale?.expr).toMatch(new RegExp(`> ${3 * d.BUDGET_COMPUTE_INTERVAL_SEC}\\b`));
    const latency = alerts.find((a) => a.alert === 'P28GateLatencyHigh');
    expect(Number(latency?.expr.match(/>\s*([\d.]+)\s*$/)?.[1])).toBeCloseTo(d.GATE_TIMEOUT_MS / 2 / 1000, 6);
    const seconds = (dur?: string) => {
      const m = dur?.match(/^(\d+)([smh])$/);
      return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] : 0;
    };
    for (const name of ['P28NoLeader', 'P28MultipleLeaders']) {
      const a = alerts.find((r) => r.alert === name);
      expect(seconds(a?.for), `${name} waits at least one lease`).toBeGreaterThanOrEqual(
        d.LEADER_LEASE_MS / 1000,
      );
    }
  });
});

interface InhibitRule {
  source_matchers?: string[];
  target_matchers?: string[];
  equal?: string[];
}
interface AmRoute {
  receiver?: string;
  group_by?: string[];
  matchers?: string[];
  continue?: boolean;
  routes?: AmRoute[];
}
interface AmConfig {
  route: AmRoute;
  receivers: Array<{ name: string; webhook_configs?: Array<{ url?: string }> }>;
  inhibit_rules: InhibitRule[];
}
type Labels = Record<string, string>;

/** One Alertmanager matcher (`name="v"`, `!=`, `=~`, `!~`); regexes are anchored, as Alertmanager does. */
function parseMatcher(text: string): (labels: Labels) => boolean {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text);
  if (!m) throw new Error(`matcher not understood: ${text}`);
  const [, name, op, value] = m;
  const re = new RegExp(`^(?:${value})$`);
  return (labels) => {
    const v = labels[name] ?? '';
    if (op === '=') return v === value;
    if (op === '!=') return v !== value;
    if (op === '=~') return re.test(v);
    return !re.test(v);
  };
}
const matchesAll = (matchers: string[] | undefined, labels: Labels) =>
  (matchers ?? []).every((m) => parseMatcher(m)(labels));

/** Alerts left after Alertmanager's inhibition: a target is muted by any firing source with equal labels. */
function afterInhibition(firing: Labels[], rules: InhibitRule[]): Labels[] {
  return firing.filter(
    (target) =>
      !rules.some(
        (r) =>
          matchesAll(r.target_matchers, target) &&
          firing.some(
            (source) =>
              source !== target &&
              matchesAll(r.source_matchers, source) &&
              // an alert matching both sides of one rule is not muted by alerts doing the same
              !(matchesAll(r.target_matchers, source) && matchesAll(r.source_matchers, target)) &&
              (r.equal ?? []).every((l) => (source[l] ?? '') === (target[l] ?? '')),
          ),
      ),
  );
}

const alertmanager = existsSync(path(ALERTMANAGER)) ? (yaml.load(read(ALERTMANAGER)) as AmConfig) : undefined;
/** Every alert of the rules file as Alertmanager receives it from one deployment. */
const ruleAlerts: Labels[] = alerts.map((a) => ({
  alertname: a.alert as string,
  job: 'p28-portfolio-risk-governor',
  ...(a.labels ?? {}),
}));
function firing(...names: string[]): Labels[] {
  return names.flatMap((n) => {
    const [alertname, cause] = n.split('/');
    const found = ruleAlerts.filter((a) => a.alertname === alertname && (!cause || a.cause === cause));
    if (found.length === 0) throw new Error(`no alert ${n} in ${RULES}`);
    return found;
  });
}
/** Notifications sent: one per (severity route, job, incident) group; info goes to the quiet receiver. */
function notifications(firingAlerts: Labels[]): string[] {
  const left = afterInhibition(firingAlerts, alertmanager?.inhibit_rules ?? []);
  return [
    ...new Set(left.filter((a) => a.severity !== 'info').map((a) => `${a.severity}/${a.incident}`)),
  ].sort();
}

describe('deploy kit: Alertmanager routing and inhibition', () => {
  it.skipIf(!hasAmtool && !process.env.CI)(
    'deploy/alertmanager/test.sh passes (amtool check-config + every route case)',
    () => {
      const r = run('bash', [path('deploy/alertmanager/test.sh')]);
      expect(r.status, r.output).toBe(0);
      expect(r.stdout).toContain('OK:');
      expect(r.stdout).not.toContain('SKIP');
    },
  );

  it('test.sh fails loudly under CI when amtool is missing, and skips without CI', () => {
    const env = { ...process.env, AMTOOL: '/nonexistent/amtool' };
    const ci = spawnSync('bash', [path('deploy/alertmanager/test.sh')], {
      encoding: 'utf8',
      env: { ...env, CI: '1' },
    });
    expect(ci.status).toBe(1);
    expect(ci.stderr).toMatch(/amtool not found.*prometheus-alertmanager/);
    const dev = spawnSync('bash', [path('deploy/alertmanager/test.sh')], {
      encoding: 'utf8',
      env: { ...env, CI: '' },
    });
    expect(dev.status).toBe(0);
    expect(dev.stdout).toContain('SKIP');
  });

  it('.ci/run installs amtool next to promtool', () => {
    expect(read('.ci/run')).toContain(
      'command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)',
    );
  });

  it('gives every alert an incident label that groups it with its root cause', () => {
    for (const a of alerts) expect(a.labels?.incident, `${a.alert} incident`).toMatch(/^[a-z_]+$/);
    expect(alertmanager, `${ALERTMANAGER} missing`).toBeDefined();
    const p28 = alertmanager!.route.routes?.find((r) => r.matchers?.some((m) => m.includes('P28')));
    expect(p28?.group_by).toEqual(expect.arrayContaining(['job', 'incident']));
  });

  it('sends critical to a pager, warning to chat and info to a quiet receiver, with placeholder URLs', () => {
    const receivers = new Map(alertmanager!.receivers.map((r) => [r.name, r]));
    const p28 = alertmanager!.route.routes!.find((r) => r.matchers?.some((m) => m.includes('P28')))!;
    const bySeverity = (s: string) =>
      p28.routes?.find((r) => matchesAll(r.matchers, { severity: s, alertname: 'P28X' }))?.receiver;
    expect(bySeverity('critical')).toBe('p28-pager');
    expect(bySeverity('warning')).toBe('p28-chat');
    expect(bySeverity('info')).toBe('p28-quiet');
    expect(receivers.get('p28-quiet')?.webhook_configs ?? []).toEqual([]);
    for (const name of ['p28-pager', 'p28-chat']) {
      const urls = (receivers.get(name)?.webhook_configs ?? []).map((w) => w.url);
      expect(urls.length, name).toBeGreaterThan(0);
      // .invalid never resolves: an unedited config fails to deliver rather than paging a stranger
      for (const u of urls) expect(u).toMatch(/^https:\/\/REPLACE-ME[^/]*\.invalid\//);
    }
  });

  it('each inhibit rule names alerts that exist in the rules file, on both sides, for the same job', () => {
    const rules = alertmanager!.inhibit_rules;
    expect(rules.length).toBeGreaterThanOrEqual(3);
    for (const r of rules) {
      const label = JSON.stringify(r.source_matchers);
      expect(
        ruleAlerts.some((a) => matchesAll(r.source_matchers, a)),
        `source of ${label}`,
      ).toBe(true);
      expect(
        ruleAlerts.some((a) => matchesAll(r.target_matchers, a)),
        `target of ${label}`,
      ).toBe(true);
      expect(r.equal, label).toContain('job');
      // a root cause that mutes must itself page
      for (const src of ruleAlerts.filter((a) => matchesAll(r.source_matchers, a)))
        expect(src.severity, `${src.alertname} mutes others`).toBe('critical');
    }
  });

  it('a Redis outage pages once (incident redis) and mutes its consequences', () => {
    const outage = firing(
      'P28LkgCacheInUse/redis',
      'P28GateBreakerOpen',
      'P28RedisWriteFailures',
      'P28NoLeader',
      'P28BudgetLoopStalled/no_recent_tick',
      'P28EnforceWithStaleBudgets',
      'P28GateNotEnforcing',
      'P28GateFailOpenHigh',
      'P28PortfolioStateMissing',
      'P28PortfolioStateTooOld',
      'P28StaleInput',
    );
    expect(notifications(outage)).toEqual(['critical/redis']);
  });

  it('a lost leader pages once (incident leader) and mutes the stalled loop and the gate', () => {
    const lost = firing(
      'P28NoLeader',
      'P28BudgetLoopStalled/no_recent_tick',
      'P28EnforceWithStaleBudgets',
      'P28GateNotEnforcing',
      'P28GateFailOpenHigh',
      'P28BudgetTickOverrun',
    );
    expect(notifications(lost)).toEqual(['critical/leader']);
  });

  it('a stale portfolio publisher pages once (incident portfolio_publisher)', () => {
    const stale = firing(
      'P28LkgCacheInUse/portfolio_publisher',
      'P28PortfolioStateTooOld',
      'P28EnforceWithStaleBudgets/ticks_failing',
      'P28GateNotEnforcing',
      'P28GateFailOpenHigh',
      'P28BudgetLoopStalled/no_recent_tick',
    );
    expect(notifications(stale)).toEqual(['critical/portfolio_publisher']);
  });

  it('never mutes lost state, rejected ledger entries or dropped logs, and has no inhibition cycle', () => {
    const all = afterInhibition(ruleAlerts, alertmanager!.inhibit_rules).map((a) => a.alertname);
    for (const name of [
      'P28StateLost',
      'P28LedgerEntriesMissing',
      'P28LedgerEntriesRejected',
      'P28LogsDropped',
    ])
      expect(all, name).toContain(name);
    // a gate that is not enforcing with no root cause firing still pages on its own
    expect(notifications(firing('P28GateNotEnforcing', 'P28GateFailOpenHigh'))).toEqual(['critical/gate']);
    // muting is one way: incident A mutes B and B mutes A would silence both
    const edges = new Set<string>();
    for (const r of alertmanager!.inhibit_rules)
      for (const s of ruleAlerts.filter((a) => matchesAll(r.source_matchers, a)))
        for (const t of ruleAlerts.filter((a) => matchesAll(r.target_matchers, a)))
          if (s.incident !== t.incident && !r.equal?.includes('incident'))
            edges.add(`${s.incident}>${t.incident}`);
    for (const e of edges) {
      const [a, b] = e.split('>');
      expect(edges.has(`${b}>${a}`), `${a} and ${b} mute each other`).toBe(false);
    }
  });
});

describe('deploy kit: metric names exist in the service', () => {
  let known: Set<string>;

  beforeAll(async () => {
    const metrics = new Metrics();
    // /metrics serves the app's registry merged with prom-client's process defaults
    const json = [
      ...(await metrics.registry.getMetricsAsJSON()),
      ...(await processRegistry.getMetricsAsJSON()),
    ];
    known = new Set<string>();
    for (const m of json) {
      known.add(m.name);
      if (String(m.type) === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) known.add(m.name + s);
    }
  });

  it('every metric in the alerting and recording rules is one the service exports', () => {
    const used = new Set(allRules.flatMap((r) => metricNamesIn(r.expr)));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(known, `${RULES} uses unknown metric ${name}`).toContain(name);
  });

  it('every metric in the dashboard is one the service exports', () => {
    const used = new Set(dashboardExprs.flatMap(metricNamesIn));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(known, `${DASHBOARD} uses unknown metric ${name}`).toContain(name);
  });

  it('the extractor ignores label values and sees histogram series', () => {
    expect(
      metricNamesIn(
        'sum(rate(quantum_govern_block_total{reason="p28_budget_violation"}[5m])) / p28:x:rate5m',
      ),
    ).toEqual(['quantum_govern_block_total']);
    expect(metricNamesIn('histogram_quantile(0.99, rate(p28_gate_latency_seconds_bucket[5m]))')).toEqual([
      'p28_gate_latency_seconds_bucket',
    ]);
  });
});

describe('deploy kit: Grafana dashboard', () => {
  it('is a Grafana JSON model with the Prometheus data source as a variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const ds = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of allPanels(dashboard.panels).filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid, `panel ${p.title}`).toBe('${DS_PROMETHEUS}');
      for (const t of p.targets ?? [])
        expect(t.datasource?.uid ?? p.datasource?.uid).toBe('${DS_PROMETHEUS}');
    }
  });

  it('shows every required signal', () => {
    const text = dashboardExprs.join('\n');
    for (const metric of [
      'p28_enforce_mode',
      'p28_budget_value_usd',
      'p28_budget_utilization_ratio',
      'p28_budget_blocks_total',
      'quantum_govern_block_total',
      'p28_shadow_would_block_total',
      'p28_gate_fail_open_total',
      'p28_budget_loop_duration_seconds_bucket',
      'p28_gate_latency_seconds_bucket',
      'p28_budget_leader',
      'p28_lkg_cache_used_total',
      'p28_portfolio_too_old_total',
      'p28_missing_portfolio_state_total',
      'p28_stale_input_total',
      'p28_gate_breaker_open',
      'p28_mode_overrides',
      'p28_reduce_only_mode',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'p28_state_lost_total',
      'p28_ledger_rejected_entries_total',
      'p28_log_dropped_total',
    ]) {
      expect(text, `dashboard misses ${metric}`).toContain(metric);
    }
    const latency = dashboardExprs.filter((e) => e.includes('p28_gate_latency_seconds_bucket'));
    for (const q of ['0.5', '0.99', '0.999']) {
      expect(
        latency.some((e) => e.startsWith(`histogram_quantile(${q},`)),
        `gate latency p${q}`,
      ).toBe(true);
    }
    expect(dashboardExprs.some((e) => /sum by \(reason\) \(rate\(p28_gate_fail_open_total/.test(e))).toBe(
      true,
    );
    const modePanel = allPanels(dashboard.panels).find((p) => p.type === 'stat' && p.title === 'Mode');
    expect(modePanel?.targets?.[0]?.expr).toContain('p28_enforce_mode');
  });

  it('names the mode shadow, enforce or reduce_only', () => {
    const mode = allPanels(dashboard.panels).find((p) => p.type === 'stat' && p.title === 'Mode');
    const expr = mode?.targets?.[0]?.expr ?? '';
    expect(expr).toContain('p28_reduce_only_mode');
    // p28_enforce_mode is 1 in reduce_only too: the sum tells the three apart
    const options = Object.fromEntries(
      (mode?.fieldConfig?.defaults?.mappings ?? [])
        .filter((m) => m.type === 'value')
        .flatMap((m) => Object.entries(m.options ?? {}).map(([v, o]) => [v, o.text])),
    );
    expect(options).toEqual({ '0': 'shadow', '1': 'enforce', '2': 'reduce_only' });
  });

  it('keeps budget panels on their last-known values during an incident, on both sides of the leader join', () => {
    const budgetExprs = allPanels(dashboard.panels)
      .flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr ?? '' })))
      .filter((t) => /p28_budget_value_usd|p28_budget_utilization_ratio|p28_stress_factor/.test(t.expr));
    expect(budgetExprs.length).toBeGreaterThanOrEqual(4);
    for (const { title, expr } of budgetExprs) {
      const names = metricNamesIn(expr);
      expect(names, title).toContain('p28_budget_leader');
      for (const name of names) {
        const wrapped = new RegExp(`last_over_time\\(${name}(\\{[^}]*\\})?\\[15m\\]\\)`, 'g');
        const bare = new RegExp(`(?<![\\w:])${name}(?![\\w:])`, 'g');
        expect((expr.match(wrapped) ?? []).length, `${title}: ${name} not under last_over_time`).toBe(
          (expr.match(bare) ?? []).length,
        );
      }
    }
  });

  it('has unique panel ids and no overlapping panels', () => {
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = panels.map((p) => ({ title: p.title, ...p.gridPos! }));
    for (const b of boxes) expect(b.x + b.w, `${b.title} fits 24 columns`).toBeLessThanOrEqual(24);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it.skipIf(!hasPromtool && !process.env.CI)(
    'every dashboard query is valid PromQL (checked by promtool)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'p28-dash-'));
      try {
        const exprs = [
          ...dashboardExprs,
          ...dashboard.templating.list.flatMap((v) => {
            const m = v.definition?.match(/^label_values\((.+),\s*\w+\)$/);
            return m ? [m[1]] : [];
          }),
        ];
        const file = join(dir, 'dashboard-queries.yml');
        const body = exprs
          .map(
            (e, i) =>
              `      - record: p28_dashboard_query_${i}\n        expr: ${JSON.stringify(substituteGrafanaVariables(e))}`,
          )
          .join('\n');
        writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${body}\n`);
        const r = run(process.env.PROMTOOL ?? 'promtool', ['check', 'rules', file]);
        expect(r.status, r.output).toBe(0);
        expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('deploy kit: systemd unit and env file', () => {
  const unit = read(UNIT);
  const directives = (key: string) =>
    unit
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));
  const envEntries = parseEnvFile(read(ENV_FILE));
  let verifyDir: string | undefined;

  afterAll(() => {
    if (verifyDir) rmSync(verifyDir, { recursive: true, force: true });
  });

  it('keeps the original hardening and runs the built service', () => {
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['Restart', 'always'],
      ['ProtectHome', 'yes'],
      // env finds the Node that NODE_BIN names: systemd will not take a variable as the command
      ['ExecStart', '/usr/bin/env ${NODE_BIN} --max-semi-space-size=64 /opt/p28/dist/main.js'],
      ['WorkingDirectory', '/opt/p28'],
      ['EnvironmentFile', '/etc/p28/p28-portfolio-risk-governor.env'],
      ['KillSignal', 'SIGTERM'],
      ['TimeoutStopSec', '15'],
      ['StateDirectory', 'p28'],
    ]) {
      expect(directives(key), key).toEqual([value]);
    }
    // the Node binary is configurable, with a default; the service itself refuses one too old
    const env = directives('Environment').flatMap((d) => d.split(/\s+/));
    expect(env).toContain('NODE_BIN=/usr/bin/node');
    expect(unit).toMatch(/systemctl edit[\s\S]*NODE_BIN=/);
    // V8's JIT writes executable memory: this hardening option would kill node at start
    expect(directives('MemoryDenyWriteExecute')).toEqual([]);
    expect(directives('After')[0]).toMatch(/network-online\.target/);
    expect(directives('Wants')[0]).toMatch(/network-online\.target/);
  });

  it('binds loopback and lets the kernel refuse IP traffic outside the allowed networks', () => {
    const env = Object.fromEntries(envEntries.map((e) => [e.key, e.value]));
    expect(env.HOST).toBe('127.0.0.1');
    expect(directives('IPAddressDeny')).toEqual(['any']);
    const allowed = directives('IPAddressAllow').flatMap((d) => d.split(/\s+/));
    expect(allowed).toContain('localhost');
    expect(allowed).not.toContain('any');
  });

  it.skipIf(!hasSystemdAnalyze)('passes systemd-analyze verify with no warning about the unit', () => {
    verifyDir = mkdtempSync(join(tmpdir(), 'p28-unit-'));
    const copy = join(verifyDir, 'p28-portfolio-risk-governor.service');
    copyFileSync(path(UNIT), copy);
    // verify checks that ExecStart's binary exists; where node lives elsewhere, point it there
    if (!existsSync('/usr/bin/node')) {
      writeFileSync(copy, unit.replace('NODE_BIN=/usr/bin/node', `NODE_BIN=${process.execPath}`));
    }
    const r = run('systemd-analyze', ['verify', copy], verifyDir);
    expect(r.status, r.output).toBe(0);
    // unknown keys are only warnings (exit 0): any line about our file is a defect
    const aboutUs = r.output.split('\n').filter((l) => l.includes('p28-portfolio-risk-governor'));
    expect(aboutUs).toEqual([]);
  });

  it('lists exactly the variables of .env.example, once each, without inline comments', () => {
    const example = parseEnvFile(read('.env.example')).map((e) => e.key);
    const keys = envEntries.map((e) => e.key);
    expect(new Set(keys).size, 'duplicate variable').toBe(keys.length);
    expect([...keys].sort()).toEqual([...example].sort());
    for (const e of envEntries) {
      expect(e.key, `line ${e.line}`).toMatch(/^[A-Z][A-Z0-9_]*$/);
      // systemd keeps everything after `=`: a trailing "# comment" would become part of the value
      expect(e.value, `line ${e.line}: ${e.raw}`).not.toMatch(/\s|#/);
    }
  });

  it('holds production-safe values that pass the boot validation', () => {
    const env = Object.fromEntries(envEntries.map((e) => [e.key, e.value]));
    const config = loadConfig(env);
    expect(config.P28_MODE).toBe('shadow');
    expect(config.P28_TEST_MODE).toBe(false);
    expect(env.OPS_API_TOKENS).toBe('');
    // the ledger mirror must be inside a path the unit lets the service write
    const writable = [
      ...directives('StateDirectory').map((d) => `/var/lib/${d}`),
      ...directives('ReadWritePaths').flatMap((d) => d.split(/\s+/)),
    ];
    expect(config.LEDGER_FILE).toBeTruthy();
    expect(writable).toContain(dirname(config.LEDGER_FILE as string));
    // the Prometheus rules assume these defaults
    const d = new AppConfig();
    expect(config.BUDGET_COMPUTE_INTERVAL_SEC).toBe(d.BUDGET_COMPUTE_INTERVAL_SEC);
    expect(config.LEADER_LEASE_MS).toBe(d.LEADER_LEASE_MS);
    expect(config.GATE_TIMEOUT_MS).toBe(d.GATE_TIMEOUT_MS);
  });
});

describe('runbook: emergency steps', () => {
  const runbook = existsSync(path('docs/runbook.md')) ? read('docs/runbook.md') : '';
  const section = (heading: string) => {
    const start = runbook.indexOf(`\n## ${heading}`);
    const end = runbook.indexOf('\n## ', start + 4);
    return start < 0 ? '' : runbook.slice(start, end < 0 ? undefined : end);
  };

  it('uses p28ctl first and keeps curl as the fallback', () => {
    const rollback = section('Emergency rollback');
    expect(rollback).toContain('p28ctl rollback --reason');
    expect(rollback).toContain('p28ctl status');
    expect(rollback).toMatch(
      /curl[^\n]*\/ops\/rollback|\/ops\/rollback[^\n]*\n[^\n]*curl|-X POST[\s\S]*\/ops\/rollback/,
    );
    expect(rollback.indexOf('p28ctl rollback')).toBeLessThan(rollback.indexOf('/ops/rollback'));
    const kill = section('Kill switch: reduce only');
    expect(kill).toContain('p28ctl mode reduce-only --reason');
    expect(kill).toContain('"mode":"reduce_only"');
  });

  it('names the Alertmanager config and its placeholders', () => {
    expect(runbook).toContain('deploy/alertmanager/alertmanager.yml');
    expect(runbook).toContain('REPLACE-ME');
  });
});

describe('deploy kit: runbook anchors', () => {
  const runbook = path('docs/runbook.md');
  it.skipIf(!existsSync(runbook))(
    'every runbook_url anchor is a heading or anchor of docs/runbook.md',
    () => {
      const text = readFileSync(runbook, 'utf8');
      const anchors = new Set<string>([
        ...[...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => githubAnchor(m[1])),
        ...[...text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)].map((m) => m[1]),
      ]);
      for (const a of alerts) {
        const anchor = a.annotations?.runbook_url?.split('#')[1] ?? '';
        expect(anchors, `docs/runbook.md has no #${anchor}`).toContain(anchor);
      }
    },
  );
});
