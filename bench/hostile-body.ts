/**
 * How long the real app (Nest + Fastify, real Redis) spends refusing a hostile body, next to a normal
 * body: a ~1 MB JSON object of ~120,000 unknown keys sent to POST /governor/evaluate,
 * POST /budgets/simulate (authenticated viewer, so it reaches the ValidationPipe) and PUT /ops/mode,
 * and a normal plan sent while the hostile body is being refused (what a legitimate caller waits).
 * Server time is from the request's arrival to the end of its response, taken from the HTTP server's
 * own events; the client is in another process (curl would do; here a child node process) so its
 * work is not counted.
 *
 *   node --import @swc-node/register/esm-register bench/hostile-body.ts [--smoke] [--runs=N]
 *
 * Each route gets a normal body, a hostile body just under its 8 KB limit (thousands of unknown
 * keys: refused by the checker or the validation pipe) and the 1 MB one (413 from the limit).
 * Target: every hostile body refused (4xx) in a median of a few ms of server time. Exits 1 when a
 * median exceeds MAX_MEDIAN_MS (the smoke form only reports).
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newToken, tokenEntry } from '../src/platform/auth/token-entries.js';
import { createTestApp } from '../test/support/app.js';
import { startTestRedis } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const runsArg = args.find((a) => a.startsWith('--runs='));
const RUNS = runsArg ? Number(runsArg.split('=')[1]) : smoke ? 3 : 15;
const MAX_MEDIAN_MS = 20;

/** Just under 1 MB: the real fields, then ~120,000 short unknown keys (`"a":0,"b":0,...`). */
export function hostileBody(real: Record<string, unknown>, limit = 1024 * 1024 - 16): string {
  const parts = Object.entries(real).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  let length = parts.join(',').length + 2;
  for (let i = 0; ; i++) {
    const part = `"${i.toString(36)}":0`;
    if (length + part.length + 1 > limit) break;
    parts.push(part);
    length += part.length + 1;
  }
  return `{${parts.join(',')}}`;
}

interface Case {
  name: string;
  method: 'POST' | 'PUT';
  path: string;
  body: string;
  token?: string;
}

/** Sends each case RUNS times from a child process (one keep-alive connection), serially. */
function runClient(port: number, cases: Case[]): Promise<number[][]> {
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    const runs = Number(process.argv[1]);
    const port = Number(process.argv[2]);
    const send = (c) => new Promise((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(c.body) };
      if (c.token) headers.authorization = 'Bearer ' + c.token;
      const req = http.request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end(c.body);
    });
    (async () => {
      const statuses = [];
      for (const c of cases) {
        const s = [];
        for (let i = 0; i < runs; i++) s.push(await send(c));
        statuses.push(s);
      }
      process.stdout.write(JSON.stringify(statuses));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, String(RUNS), String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.end(JSON.stringify(cases));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as number[][]) : reject(new Error(`client exit ${code}`)),
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  const redis = await startTestRedis();
  const viewer = newToken();
  const operator = newToken();
  const t = await createTestApp(
    {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      OPS_API_TOKENS: `${tokenEntry('view', 'viewer', viewer)},${tokenEntry('op', 'operator', operator)}`,
    },
    { listen: true },
  );
  const server = t.http as Server;
  const timings: number[] = [];
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.on('finish', () => timings.push(performance.now() - started));
  });
  const port = (server.address() as AddressInfo).port;

  const plan = { plan_id: 'bench-1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.001 };
  const sim = { equity_usd: 100000, heat: 0.25 };
  const mode = { mode: 'shadow', reason: 'bench' };
  const hostilePlan = hostileBody(plan);
  const keys = (b: string) => b.split(',').length;
  const SMALL = 8 * 1024 - 16;
  const route = (
    name: string,
    method: Case['method'],
    path: string,
    real: object,
    token?: string,
  ): Case[] => [
    { name: `${name}, normal body`, method, path, body: JSON.stringify(real), token },
    { name: `${name}, hostile 8 KB`, method, path, body: hostileBody({ ...real }, SMALL), token },
    { name: `${name}, hostile 1 MB`, method, path, body: hostileBody({ ...real }), token },
  ];
  const cases: Case[] = [
    ...route('evaluate', 'POST', '/governor/evaluate', plan),
    ...route('simulate', 'POST', '/budgets/simulate', sim, viewer),
    ...route('PUT /ops/mode', 'PUT', '/ops/mode', mode, operator),
  ];
  process.stdout.write(
    `hostile 1 MB: ${hostilePlan.length} bytes, ${keys(hostilePlan)} keys; ` +
      `hostile 8 KB: ${keys(hostileBody(plan, SMALL))} keys; ${RUNS} runs per case\n`,
  );
  const statuses = await runClient(port, cases);
  let failed = false;
  for (let i = 0; i < cases.length; i++) {
    const ms = timings.slice(i * RUNS, (i + 1) * RUNS);
    const med = median(ms);
    const hostile = cases[i].name.includes('hostile');
    const refused = statuses[i].every((code) => code >= 400 && code < 500);
    if (hostile && (!refused || med > MAX_MEDIAN_MS)) failed = true;
    process.stdout.write(
      `${cases[i].name.padEnd(32)} status ${[...new Set(statuses[i])].join('/')}  server ms: median ${med.toFixed(2)}  max ${Math.max(...ms).toFixed(2)}\n`,
    );
  }
  await t.close();
  await redis.close();
  if (failed && !smoke) {
    process.stdout.write(`FAIL: a hostile body was not refused within a median of ${MAX_MEDIAN_MS} ms\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
