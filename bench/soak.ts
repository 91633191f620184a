/**
 * Soak: the built service as its own process against a private redis-server, for N minutes, with
 *   - steady gate load (autocannon against POST /governor/evaluate),
 *   - 1 s budget ticks over 1,000 active symbols (a feeder keeps the portfolio state fresh),
 *   - a mode flip (shadow <-> enforce) every 30 s through the operator API.
 * Reports RSS at start, after warm-up and at the end, the error-log count, the event-loop lag p99,
 * and checks the counters: decisions = allows + blocks, and the ledger verifies.
 *
 *   npm run build && node --import @swc-node/register/esm-register bench/soak.ts [--minutes 10] [--smoke]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { newToken, tokenEntry } from '../src/platform/auth/token-entries.js';
import { Keys } from '../src/platform/redis/keys.js';
import { freePort, startTestRedis } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const minutes = smoke ? 0.5 : Number(args[args.indexOf('--minutes') + 1] || 10);
const durationMs = minutes * 60_000;
const warmupMs = Math.min(60_000, durationMs / 5);
const SYMBOLS = smoke ? 200 : 1000;
const FLIP_MS = 30_000;
const root = resolve(import.meta.dirname, '..');

const rssOf = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const metric = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

const redis = await startTestRedis();
const feed = new Redis(redis.url);
const syms = Array.from({ length: SYMBOLS }, (_, i) => `SOAK${i}USDT`);
async function feedState() {
  const p = feed.pipeline();
  const now = Math.floor(Date.now() / 1000);
  p.hset(Keys.portfolioState, { equity_usd: '250000', drawdown: '0.01', timestamp: now });
  syms.forEach((s, i) => {
    // every 10th symbol is over budget, so violations and blocks happen
    const notional = i % 10 === 0 ? 20000 : 1000 + (i % 7) * 100;
    p.hset(Keys.position(s), {
      position_amt: '1',
      side: 'LONG',
      mark_price: String(notional),
      timestamp: now,
    });
  });
  await p.exec();
}
await feedState();

const token = newToken();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const svc = spawn(process.execPath, ['dist/main.js'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  env: {
    PATH: process.env.PATH,
    PORT: String(port),
    REDIS_URL: redis.url,
    BUDGET_COMPUTE_INTERVAL_SEC: '1',
    HEAT_GATE_METRICS_URL: 'http://127.0.0.1:9/metrics', // nothing listens: heat counts as stale, by design
    HEAT_TIMEOUT_MS: '200',
    OPS_API_TOKENS: tokenEntry('soak', 'operator', token),
    LOG_LEVEL: 'warn',
  },
});
let errorLines = 0;
let warnLines = 0;
const errorSamples: string[] = [];
const onLog = (chunk: Buffer) => {
  for (const line of String(chunk).split('\n').filter(Boolean)) {
    if (/"level":"(error|fatal)"/.test(line)) {
      errorLines += 1;
      if (errorSamples.length < 5) errorSamples.push(line.slice(0, 300));
    } else if (/"level":"warn"/.test(line)) warnLines += 1;
  }
};
svc.stdout.on('data', onLog);
svc.stderr.on('data', onLog);

for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/health`)).ok) break;
  } catch {
    /* starting */
  }
  if (i > 200) throw new Error('service did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const auth = { Authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const rssStart = rssOf(svc.pid!);
console.log(
  `soak: ${minutes} min, ${SYMBOLS} symbols, 1 s ticks, flip every ${FLIP_MS / 1000} s; RSS start ${rssStart.toFixed(1)} MB`,
);

const feeder = setInterval(() => void feedState().catch(() => undefined), 5000);
let mode: 'shadow' | 'enforce' = 'shadow';
let flips = 0;
const flipper = setInterval(() => {
  mode = mode === 'shadow' ? 'enforce' : 'shadow';
  void fetch(`${base}/ops/mode`, {
    method: 'PUT',
    headers: auth,
    body: JSON.stringify({ mode, reason: `soak flip ${flips}` }),
  })
    .then((r) => {
      if (r.ok) flips += 1;
      else console.error(`flip answered ${r.status}`);
    })
    .catch((e) => console.error(`flip failed: ${e}`));
}, FLIP_MS);
let rssWarm = NaN;
const rssSamples: number[] = [];
const sampler = setInterval(() => {
  const v = rssOf(svc.pid!);
  rssSamples.push(v);
  if (Number.isNaN(rssWarm) && performance.now() - t0 >= warmupMs) rssWarm = v;
}, 5000);

const t0 = performance.now();
let n = 0;
const load = await autocannon({
  url: `${base}/governor/evaluate`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  connections: 8,
  overallRate: 400, // steady load, not saturation: a soak looks for drift, not peak throughput
  duration: durationMs / 1000,
  requests: [
    {
      setupRequest: (req) => {
        n += 1;
        return {
          ...req,
          body: JSON.stringify({ plan_id: `soak-${n}`, symbol: syms[n % SYMBOLS], side: 'BUY', qty: 1 }),
        };
      },
    },
  ],
});
clearInterval(feeder);
clearInterval(flipper);
clearInterval(sampler);

const rssEnd = rssOf(svc.pid!);
const text = await (await fetch(`${base}/metrics`)).text();
const decisions = metric(text, 'p28_gate_decisions_total');
const allows = metric(text, 'quantum_govern_allow_total');
const blocks = metric(text, 'quantum_govern_block_total');
const lagP99 = metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000;
const verify = (await (await fetch(`${base}/ops/ledger/verify`, { headers: auth })).json()) as {
  ok: boolean;
  entries: number;
};

svc.kill('SIGTERM');
const exitCode = await new Promise<number | null>((r) => svc.once('exit', (c) => r(c)));
feed.disconnect();
await redis.close();

const growth = ((rssEnd - rssWarm) / rssWarm) * 100;
const report = {
  minutes,
  symbols: SYMBOLS,
  requests: load.requests.total,
  non2xx: load.non2xx,
  errors: load.errors,
  timeouts: load.timeouts,
  latency_ms: { p50: load.latency.p50, p99: load.latency.p99 },
  rss_mb: {
    start: +rssStart.toFixed(1),
    after_warmup: +rssWarm.toFixed(1),
    end: +rssEnd.toFixed(1),
    max: +Math.max(...rssSamples).toFixed(1),
  },
  rss_growth_after_warmup_pct: +growth.toFixed(2),
  error_log_lines: errorLines,
  warn_log_lines: warnLines,
  eventloop_lag_p99_ms: +lagP99.toFixed(2),
  mode_flips: flips,
  counters: { decisions, allows, blocks, consistent: decisions === allows + blocks },
  ledger: verify,
  exit_code_after_sigterm: exitCode,
  took_s: +((performance.now() - t0) / 1000).toFixed(1),
};
console.log(JSON.stringify(report, null, 2));
if (errorSamples.length) console.log('error samples:\n' + errorSamples.join('\n'));
const ok =
  report.counters.consistent &&
  verify.ok &&
  errorLines === 0 &&
  load.non2xx === 0 &&
  exitCode === 0 &&
  (smoke || (growth < 10 && lagP99 < 20));
console.log(ok ? 'SOAK: PASS' : 'SOAK: FAIL');
process.exit(ok ? 0 : 1);
