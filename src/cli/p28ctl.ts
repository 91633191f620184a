import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ACTOR_NAME, newToken, ROLES, tokenEntry, type Role } from '../platform/auth/token-entries.js';

/** Exit codes: scripts tell a refused request from a typo. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const USAGE = `usage: p28ctl [--url URL] [--json] COMMAND
  status                                   mode, overrides, expiry, health, leader, last tick, ledger check
  mode shadow|enforce|reduce-only --reason TEXT [--symbol S] [--expires 15m] [--expect-version N]
  mode clear --symbol S --reason TEXT      remove a per-symbol override
  rollback --reason TEXT                   emergency return to shadow, overrides cleared
  ledger [--limit N]                       audit ledger, newest first
  ledger verify                            check the ledger's chain
  shadow-report [--since 24h]              plans shadow mode would have blocked
  budgets [SYMBOL]                         current budgets
  policy                                   the risk policy in force
  policy set --param NAME=VALUE... --reason TEXT [--expect-version N]
  policy revert --reason TEXT [--to-version N]   back to the previous (or N's) parameters
  policy replay [--param NAME=VALUE...] [--since 48h] [--symbol S]   logged decisions under a candidate
  token --name NAME --role viewer|operator|service   a new API token (offline)
environment: P28_URL (default http://127.0.0.1:8049), P28_TOKEN or P28_TOKEN_FILE`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  fetch: typeof fetch;
  env: Record<string, string | undefined>;
  /** epoch seconds, for `--since 24h` */
  nowSec(): number;
}

class UsageError extends Error {}
class RequestFailed extends Error {}

const DURATION = /^(\d{1,9})(s|m|h|d)?$/;
const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `15m`, `2h`, `1d` → seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be a duration such as 90s, 15m, 2h or 1d`);
  return Number(m[1]) * UNIT_SEC[m[2] ?? 's'];
}

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean', default: false },
  reason: { type: 'string' },
  symbol: { type: 'string' },
  expires: { type: 'string' },
  'expect-version': { type: 'string' },
  limit: { type: 'string' },
  since: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  param: { type: 'string', multiple: true },
  'to-version': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies ParseArgsConfig['options'];

type Values = {
  [K in Exclude<keyof typeof OPTIONS, 'param'>]?: (typeof OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : string;
} & { param?: string[] };

function token(io: Io): string | undefined {
  if (io.env.P28_TOKEN) return io.env.P28_TOKEN.trim();
  const file = io.env.P28_TOKEN_FILE;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new RequestFailed(
      `P28_TOKEN_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

async function call(
  io: Io,
  base: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
  { okStatuses = [200] }: { okStatuses?: number[] } = {},
): Promise<{ status: number; body: unknown }> {
  const t = token(io);
  let res: Response;
  try {
    res = await io.fetch(new URL(path, base), {
      method,
      headers: {
        accept: 'application/json',
        ...(t ? { authorization: `Bearer ${t}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new RequestFailed(`cannot reach ${base}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    // a non-JSON body (a proxy's error page) is shown as text
  }
  if (!okStatuses.includes(res.status)) {
    const msg =
      parsed && typeof parsed === 'object' && 'message' in parsed
        ? (parsed as { message: unknown }).message
        : text.slice(0, 500);
    throw new RequestFailed(
      `${method} ${path}: ${res.status} ${Array.isArray(msg) ? msg.join('; ') : String(msg)}`,
    );
  }
  return { status: res.status, body: parsed };
}

/** Two-column key/value lines, keys padded. */
function kv(rows: Array<[string, unknown]>): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows
    .map(([k, v]) => `${k.padEnd(w)}  ${v === undefined || v === null ? '-' : String(v)}`)
    .join('\n');
}

/** A plain text table: a header and one line per row. */
function table(header: string[], rows: unknown[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const iso = (sec: unknown) =>
  typeof sec === 'number' && Number.isFinite(sec)
    ? new Date(sec * 1000).toISOString().replace('.000', '')
    : '-';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

function need(values: Values, flag: 'reason' | 'symbol' | 'name' | 'role'): string {
  const v = values[flag];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${flag} is required`);
  return v;
}

async function status(io: Io, base: string, json: boolean) {
  const health = await call(io, base, 'GET', '/health', undefined, { okStatuses: [200, 503] });
  const mode = await call(io, base, 'GET', '/ops/mode');
  const verify = await call(io, base, 'GET', '/ops/ledger/verify');
  if (json) {
    io.out(JSON.stringify({ health: health.body, mode: mode.body, ledger: verify.body }));
    return undefined;
  }
  const h = obj(health.body);
  const m = obj(mode.body);
  const v = obj(verify.body);
  const engine = obj(h.budget_engine);
  const overrides = Object.entries(obj(m.overrides));
  io.out(
    kv([
      ['mode', m.mode],
      ['version', m.version],
      ['expires', m.expires_at === undefined ? '-' : iso(m.expires_at)],
      ['changed', `${iso(m.changed_at)} by ${String(m.changed_by ?? '-')}`],
      ['overrides', overrides.length ? overrides.map(([s, md]) => `${s}=${String(md)}`).join(' ') : 'none'],
      [
        'health',
        `${String(h.status)}${Array.isArray(h.degraded) ? ` (${h.degraded.join('; ')})` : ''}${Array.isArray(h.failing) ? ` failing: ${h.failing.join(', ')}` : ''}`,
      ],
      ['redis', h.redis],
      ['leader', engine.leader ?? '-'],
      [
        'last tick',
        h.budget_loop_last_run_age_sec === null || h.budget_loop_last_run_age_sec === undefined
          ? '-'
          : `${String(h.budget_loop_last_run_age_sec)} s ago`,
      ],
      [
        'last good write',
        engine.last_success_age_sec === undefined || engine.last_success_age_sec === null
          ? '-'
          : `${String(engine.last_success_age_sec)} s ago`,
      ],
      [
        'ledger',
        `${v.ok ? 'ok' : 'BROKEN'}, ${String(v.entries ?? '?')} entries${v.signed === undefined ? '' : v.signed ? ', signed' : ', unsigned'}`,
      ],
    ]),
  );
  return undefined;
}

async function mode(io: Io, base: string, values: Values, target: string | undefined, json: boolean) {
  const reason = need(values, 'reason');
  const body: Obj = { reason };
  if (values.symbol !== undefined) body.symbol = values.symbol;
  if (values['expect-version'] !== undefined) {
    const n = Number(values['expect-version']);
    if (!/^\d+$/.test(values['expect-version'])) throw new UsageError('--expect-version must be an integer');
    body.expected_version = n;
  }
  if (target === 'clear') {
    if (values.symbol === undefined) throw new UsageError('mode clear needs --symbol');
    body.mode = null;
  } else if (target === 'shadow' || target === 'enforce' || target === 'reduce-only') {
    body.mode = target === 'reduce-only' ? 'reduce_only' : target;
  } else {
    throw new UsageError('mode needs shadow, enforce, reduce-only or clear');
  }
  if (values.expires !== undefined) body.expires_in_sec = parseDuration(values.expires, '--expires');
  const res = await call(io, base, 'PUT', '/ops/mode', body);
  if (json) {
    io.out(JSON.stringify(res.body ?? null));
    return undefined;
  }
  const r = obj(res.body);
  if (res.body === undefined || r.operation_id === undefined) {
    io.out('nothing to change');
    return undefined;
  }
  io.out(
    kv([
      ['mode', r.mode],
      ...(r.symbol !== undefined ? ([['symbol', r.symbol]] as Array<[string, unknown]>) : []),
      ['version', r.version],
      ['operation', r.operation_id],
      ...(r.expires_at !== undefined ? ([['expires', iso(r.expires_at)]] as Array<[string, unknown]>) : []),
    ]),
  );
  return undefined;
}

async function rollback(io: Io, base: string, values: Values, json: boolean) {
  const res = await call(io, base, 'POST', '/ops/rollback', { reason: need(values, 'reason') });
  if (json) {
    io.out(JSON.stringify(res.body ?? null));
    return undefined;
  }
  const r = obj(res.body);
  io.out(
    r.operation_id === undefined
      ? 'nothing to roll back: already shadow with no overrides'
      : kv([
          ['mode', r.mode],
          ['version', r.version],
          ['operation', r.operation_id],
        ]),
  );
  return undefined;
}

const PARAM = /^([a-z_]{1,40})=(-?[0-9]+(\.[0-9]+)?)$/;

/** `--param base_risk_pct=0.015` (repeatable) → `{base_risk_pct: 0.015}`; the service judges the values. */
function params(values: Values): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of values.param ?? []) {
    const m = PARAM.exec(p.trim());
    if (!m) throw new UsageError(`--param must be NAME=NUMBER, such as base_risk_pct=0.015 (got ${p})`);
    Object.defineProperty(out, m[1], { value: Number(m[2]), enumerable: true });
  }
  return out;
}

function uint(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`${flag} must be a whole number`);
  return Number(text);
}

async function policy(io: Io, base: string, values: Values, sub: string | undefined, json: boolean) {
  let res: { status: number; body: unknown };
  if (sub === undefined) {
    res = await call(io, base, 'GET', '/ops/policy');
  } else if (sub === 'set') {
    const body: Obj = { policy: params(values), reason: need(values, 'reason') };
    const v = uint(values['expect-version'], '--expect-version');
    if (v !== undefined) body.expected_version = v;
    res = await call(io, base, 'PUT', '/ops/policy', body);
  } else if (sub === 'revert') {
    const body: Obj = { reason: need(values, 'reason') };
    const v = uint(values['to-version'], '--to-version');
    if (v !== undefined) body.to_version = v;
    res = await call(io, base, 'POST', '/ops/policy/revert', body);
  } else if (sub === 'replay') {
    const body: Obj = { policy: params(values) };
    if (values.since !== undefined) body.since = io.nowSec() - parseDuration(values.since, '--since');
    if (values.symbol !== undefined) body.symbol = values.symbol;
    res = await call(io, base, 'POST', '/ops/policy/replay', body);
    if (!json) {
      const r = obj(res.body);
      const c = obj(r.changed);
      const s = obj(r.samples);
      io.out(
        kv([
          ['decisions', r.decisions],
          ['newly blocked', c.newly_blocked],
          ['newly allowed', c.newly_allowed],
          ['blocked samples', (Array.isArray(s.newly_blocked) ? s.newly_blocked : []).join(' ')],
          ['allowed samples', (Array.isArray(s.newly_allowed) ? s.newly_allowed : []).join(' ')],
        ]),
      );
      return undefined;
    }
  } else {
    throw new UsageError(`unknown policy command: ${sub}`);
  }
  if (json) {
    io.out(JSON.stringify(res.body));
    return undefined;
  }
  const r = obj(res.body);
  io.out(
    kv([
      ...Object.entries(obj(r.policy)),
      ['version', r.version],
      ...(r.operation_id !== undefined ? ([['operation', r.operation_id]] as Array<[string, unknown]>) : []),
    ]),
  );
  return undefined;
}

async function ledger(io: Io, base: string, values: Values, sub: string | undefined, json: boolean) {
  if (sub === 'verify') {
    const res = await call(io, base, 'GET', '/ops/ledger/verify');
    if (json) {
      io.out(JSON.stringify(res.body));
      return undefined;
    }
    const v = obj(res.body);
    const breaks = Array.isArray(v.breaks) ? (v.breaks as Obj[]) : [];
    io.out(
      `${v.ok ? 'ok' : 'BROKEN'}: ${String(v.entries ?? '?')} entries${v.signed === undefined ? '' : v.signed ? ', signed' : ', unsigned'}` +
        (breaks.length
          ? `\n${table(
              ['operation', 'problem'],
              breaks.map((b) => [b.operation_id, b.problem]),
            )}`
          : ''),
    );
    return v.ok ? undefined : EXIT_FAILED;
  }
  if (sub !== undefined) throw new UsageError(`unknown ledger command: ${sub}`);
  const q = new URLSearchParams();
  if (values.limit !== undefined) {
    if (!/^\d+$/.test(values.limit)) throw new UsageError('--limit must be an integer');
    q.set('limit', values.limit);
  }
  const res = await call(io, base, 'GET', `/ops/ledger${q.size ? `?${q}` : ''}`);
  if (json) {
    io.out(JSON.stringify(res.body));
    return undefined;
  }
  const entries = Array.isArray(obj(res.body).entries) ? (obj(res.body).entries as Obj[]) : [];
  io.out(
    table(
      ['operation', 'time', 'actor', 'scope', 'change', 'reason'],
      entries.map((e) => [
        e.operation_id,
        iso(e.timestamp),
        e.actor,
        e.scope,
        `${String(e.from_mode)} -> ${String(e.to_mode)}`,
        String(e.reason ?? '').slice(0, 60),
      ]),
    ),
  );
  return undefined;
}

async function shadowReport(io: Io, base: string, values: Values, json: boolean) {
  const q = new URLSearchParams();
  if (values.since !== undefined)
    q.set('since', String(io.nowSec() - parseDuration(values.since, '--since')));
  const res = await call(io, base, 'GET', `/ops/shadow-report${q.size ? `?${q}` : ''}`);
  if (json) {
    io.out(JSON.stringify(res.body));
    return undefined;
  }
  const r = obj(res.body);
  const per = Object.entries(obj(r.symbols));
  io.out(
    per.length
      ? table(
          ['symbol', 'would block', 'max over budget', 'last'],
          per.map(([s, v]) => [s, obj(v).count, obj(v).max_over_budget, iso(obj(v).last_seen)]),
        )
      : 'no would-block records',
  );
  return undefined;
}

async function budgets(io: Io, base: string, symbol: string | undefined, json: boolean) {
  const res = await call(io, base, 'GET', symbol ? `/budgets/${encodeURIComponent(symbol)}` : '/budgets');
  if (json) {
    io.out(JSON.stringify(res.body));
    return undefined;
  }
  const body = res.body;
  const list: Obj[] = Array.isArray(body)
    ? (body as Obj[])
    : Array.isArray(obj(body).budgets)
      ? (obj(body).budgets as Obj[])
      : [obj(body)];
  io.out(
    list.length
      ? table(
          ['symbol', 'budget_usd', 'position', 'util', 'stress', 'mode', 'age'],
          list.map((b) => [
            b.symbol,
            b.budget_usd,
            b.position_notional,
            b.utilization,
            b.stress_factor,
            b.mode,
            typeof b.timestamp === 'number' ? `${io.nowSec() - b.timestamp}s` : '-',
          ]),
        )
      : 'no budgets',
  );
  return undefined;
}

function tokenCommand(io: Io, values: Values, json: boolean) {
  const name = need(values, 'name');
  const role = need(values, 'role');
  if (!ACTOR_NAME.test(name)) throw new UsageError('--name must be 1-64 of A-Z a-z 0-9 _ . @ -');
  if (!(ROLES as readonly string[]).includes(role))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  const t = newToken();
  const entry = tokenEntry(name, role as Role, t);
  if (json) {
    io.out(JSON.stringify({ name, role, token: t, entry }));
    return undefined;
  }
  io.out(
    [
      `token for "${name}" (${role}); give it to them over a private channel, it is not shown again:`,
      `  ${t}`,
      'add this entry to OPS_API_TOKENS (comma-separated with the others), then restart the service:',
      `  ${entry}`,
    ].join('\n'),
  );
  return undefined;
}

/** Runs one command; returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const [command, arg, extra] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (values.help || command === 'help' ? io.out : io.err)(USAGE);
    return values.help || command === 'help' ? EXIT_OK : EXIT_USAGE;
  }
  const base = values.url ?? io.env.P28_URL ?? 'http://127.0.0.1:8049';
  const json = values.json === true;
  try {
    if (!/^https?:\/\//.test(base)) throw new UsageError('--url / P28_URL must be an http(s) URL');
    const allowsArg =
      command === 'mode' || command === 'ledger' || command === 'budgets' || command === 'policy';
    if (extra !== undefined || (!allowsArg && arg !== undefined)) {
      throw new UsageError(`unexpected argument: ${extra ?? arg}`);
    }
    let code: number | undefined;
    switch (command) {
      case 'status':
        code = await status(io, base, json);
        break;
      case 'mode':
        code = await mode(io, base, values, arg, json);
        break;
      case 'rollback':
        code = await rollback(io, base, values, json);
        break;
      case 'ledger':
        code = await ledger(io, base, values, arg, json);
        break;
      case 'shadow-report':
        code = await shadowReport(io, base, values, json);
        break;
      case 'budgets':
        code = await budgets(io, base, arg, json);
        break;
      case 'policy':
        code = await policy(io, base, values, arg, json);
        break;
      case 'token':
        code = tokenCommand(io, values, json);
        break;
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
    return code ?? EXIT_OK;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (err instanceof RequestFailed) {
      io.err(err.message);
      return EXIT_FAILED;
    }
    throw err;
  }
}
