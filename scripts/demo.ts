/**
 * `npm run demo`: a private redis-server (data under ./.data/), the service in test mode with a fresh
 * operator token, and the feeder. Ctrl-C stops everything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from '../test/support/redis-server.js';
import { startFeeder } from './demo-feeder.js';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DEMO_DATA_DIR ?? resolve(root, '.data'));

function need(cmd: string, hint: string) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`\n  ${cmd} is not installed. ${hint}\n`);
    process.exit(1);
  }
}

async function waitHttp(url: string, timeoutMs: number, ok: (status: number) => boolean = (s) => s === 200) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (ok((await fetch(url)).status)) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

need('redis-server', 'Install it with: sudo apt-get install redis-server   (Debian/Ubuntu)');
mkdirSync(resolve(dataDir, 'redis'), { recursive: true });

const redisPort = Number(process.env.DEMO_REDIS_PORT ?? (await freePort()));
const port = Number(process.env.PORT ?? 8049);
const redisUrl = `redis://127.0.0.1:${redisPort}/0`;
const children: ChildProcess[] = [];

const redis = spawn(
  'redis-server',
  [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--dir',
    resolve(dataDir, 'redis'),
    '--appendonly',
    'yes',
    '--save',
    '',
  ],
  { stdio: 'ignore' },
);
children.push(redis);
redis.on('exit', (code) => {
  if (!stopping) console.error(`redis-server exited (${code})`);
});
await new Promise((r) => setTimeout(r, 300));

const feeder = await startFeeder(redisUrl);

const token = randomBytes(32).toString('base64url');
const entry = `demo:operator:${createHash('sha256').update(token).digest('hex')}`;
const service = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'src/main.ts'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    PORT: String(port),
    REDIS_URL: redisUrl,
    P28_TEST_MODE: '1',
    OPS_API_TOKENS: entry,
    HEAT_GATE_METRICS_URL: feeder.heatUrl,
    BUDGET_COMPUTE_INTERVAL_SEC: process.env.BUDGET_COMPUTE_INTERVAL_SEC ?? '5',
    LEDGER_FILE: resolve(dataDir, 'ledger.jsonl'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  },
});
children.push(service);

let stopping = false;
const timers: { planner?: NodeJS.Timeout } = {};
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  clearInterval(timers.planner);
  console.log('\nstopping: service, feeder, redis-server ...');
  service.kill('SIGTERM');
  await new Promise((r) => (service.exitCode !== null ? r(null) : service.once('exit', r)));
  await feeder.stop();
  redis.kill('SIGTERM');
  await new Promise((r) => (redis.exitCode !== null ? r(null) : redis.once('exit', r)));
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
service.on('exit', (code) => {
  if (!stopping) {
    console.error(`service exited (${code})`);
    void stop(1);
  }
});

const base = `http://127.0.0.1:${port}`;
await waitHttp(`${base}/health`, 30_000);
// play the governor too: a plan every 2 s, so the shadow report fills with would-blocks
const demoSymbols = [
  'BTCUSDT',
  'ETHUSDT',
  'SOLUSDT',
  'AVAXUSDT',
  'LINKUSDT',
  'UNIUSDT',
  'DOGEUSDT',
  'PEPEUSDT',
];
let planNo = 0;
timers.planner = setInterval(() => {
  planNo += 1;
  const symbol = demoSymbols[planNo % demoSymbols.length];
  void fetch(`${base}/governor/evaluate`, {
    method: 'POST',
    // a token, so its would-blocks are recorded (callers without one leave no shadow record)
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ plan_id: `demo-${planNo}`, symbol, side: 'BUY', qty: 1 }),
  }).catch(() => undefined);
}, 2000);
timers.planner.unref();
const auth = `-H 'Authorization: Bearer ${token}'`;
console.log(`
P2.8 Portfolio Risk Governor demo is running (Ctrl-C stops everything)

  operator token : ${token}
  redis          : ${redisUrl}   (data in .data/redis, ledger mirror .data/ledger.jsonl)
  heat gate stub : ${feeder.heatUrl}

  health         : curl ${base}/health
  metrics        : curl ${base}/metrics | grep ^p28_
  budgets        : curl ${auth} ${base}/budgets
  shadow report  : curl ${auth} ${base}/ops/shadow-report
  evaluate       : curl -X POST ${auth} -H 'content-type: application/json' ${base}/governor/evaluate -d '{"plan_id":"p1","symbol":"PEPEUSDT","side":"BUY","qty":1000000}'
  go enforce     : curl -X PUT ${auth} -H 'content-type: application/json' ${base}/ops/mode -d '{"mode":"enforce","reason":"demo","expires_in_sec":600}'
  rollback       : curl -X POST ${auth} -H 'content-type: application/json' ${base}/ops/rollback -d '{"reason":"demo over"}'
  docs           : ${base}/docs
`);
