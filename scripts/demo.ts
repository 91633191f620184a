/**
 * `npm run demo`: a private redis-server (data under ./.data/), the service in test mode with a fresh
 * operator token, and the feeder, all on 127.0.0.1. Ctrl-C stops everything.
 * PORT chooses the service's port (default 8049), DEMO_REDIS_PORT the Redis port (default: a free one).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { startFeeder, type Feeder } from './demo-feeder.js';
import { spawnTied, type TiedProcess } from './tied-process.js';

const HOST = '127.0.0.1';
const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DEMO_DATA_DIR ?? resolve(root, '.data'));

let stopping = false;
// filled as each part starts, so that a failure stops exactly what runs
// redis-server and the service are tied to this process: they die with it, even on SIGKILL
const running: { service?: TiedProcess; redis?: TiedProcess; feeder?: Feeder } = {};
const timers: { planner?: NodeJS.Timeout } = {};

function need(cmd: string, hint: string) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`\n  ${cmd} is not installed. ${hint}\n`);
    process.exit(1);
  }
}

async function stopChild(p: TiedProcess | undefined) {
  if (!p?.running()) return;
  p.signal('SIGTERM');
  await p.exited;
}

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  clearInterval(timers.planner);
  if (code === 0) console.log('\nstopping: service, feeder, redis-server ...');
  await stopChild(running.service);
  await running.feeder?.stop();
  await stopChild(running.redis);
  process.exit(code);
}

/** Says what went wrong and how to go on, stops whatever already runs, exits 1. */
async function fail(message: string): Promise<never> {
  console.error(`\n  ${message.split('\n').join('\n  ')}\n`);
  await stop(1);
  throw new Error('unreachable');
}

/** A port that was free a moment ago on HOST. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether this process could listen on HOST:port now: a stranger there (on HOST or on every address) says no. */
function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const probe = createServer();
    probe.once('error', () => r(false));
    probe.listen({ port, host: HOST, exclusive: true }, () => probe.close(() => r(true)));
  });
}

/** Resolves once redis-server answers PING; rejects when it exits or stays silent past the deadline. */
async function waitForRedisPing(port: number, proc: TiedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) {
      const e = await proc.exited;
      throw new Error(`redis-server exited (${e.code ?? e.signal})`);
    }
    const client = new Redis({
      host: HOST,
      port,
      lazyConnect: true,
      connectTimeout: 500,
      commandTimeout: 500,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      /* not up yet */
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no PONG within ${timeoutMs / 1000} s`);
}

async function waitHttp(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) await fail(`${url} did not come up within ${timeoutMs / 1000} s`);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

need('redis-server', 'Install it with: sudo apt-get install redis-server   (Debian/Ubuntu)');

const port = Number(process.env.PORT ?? 8049);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  await fail(`PORT=${JSON.stringify(process.env.PORT)} is not a port number; e.g. PORT=8050 npm run demo`);
}
if (!(await portFree(port))) {
  await fail(
    `port ${port} on ${HOST} is already in use (another demo, or a running service?).\n` +
      `Choose another port: PORT=${await freePort()} npm run demo`,
  );
}

mkdirSync(resolve(dataDir, 'redis'), { recursive: true });
const redisPort = Number(process.env.DEMO_REDIS_PORT ?? (await freePort()));
const redisUrl = `redis://${HOST}:${redisPort}/0`;
const redisLog: string[] = [];
const keepLog = (chunk: string) => redisLog.push(...chunk.split('\n').filter(Boolean));
const redis = await spawnTied(
  'redis-server',
  [
    '--port',
    String(redisPort),
    '--bind',
    HOST,
    '--dir',
    resolve(dataDir, 'redis'),
    '--appendonly',
    'yes',
    '--save',
    '',
  ],
  { onOutput: keepLog },
);
running.redis = redis;
void redis.exited.then(({ code, signal }) => {
  if (!stopping && running.service) console.error(`redis-server exited (${code ?? signal})`);
});
try {
  await waitForRedisPing(redisPort, redis, 10_000);
} catch (err) {
  await fail(
    `redis-server did not answer PING on ${HOST}:${redisPort}: ${(err as Error).message}.\n` +
      (redisLog.length ? `redis-server said: ${redisLog.slice(-2).join(' | ')}\n` : '') +
      `If that port is taken, choose another (DEMO_REDIS_PORT=${await freePort()}) or leave DEMO_REDIS_PORT unset.`,
  );
}

const feeder = await startFeeder(redisUrl);
running.feeder = feeder;

const token = randomBytes(32).toString('base64url');
const entry = `demo:operator:${createHash('sha256').update(token).digest('hex')}`;
const service = await spawnTied(
  process.execPath,
  ['--import', '@swc-node/register/esm-register', 'src/main.ts'],
  {
    cwd: root,
    inheritOutput: true,
    env: {
      ...process.env,
      PORT: String(port),
      // the demo carries a test-mode endpoint and a printed token: loopback only, whatever HOST says
      HOST,
      REDIS_URL: redisUrl,
      P28_TEST_MODE: '1',
      OPS_API_TOKENS: entry,
      HEAT_GATE_METRICS_URL: feeder.heatUrl,
      BUDGET_COMPUTE_INTERVAL_SEC: process.env.BUDGET_COMPUTE_INTERVAL_SEC ?? '5',
      LEDGER_FILE: resolve(dataDir, 'ledger.jsonl'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
  },
);
running.service = service;
void service.exited.then(({ code, signal }) => {
  if (!stopping) {
    void fail(
      `the service exited (${code ?? signal}). If it says EADDRINUSE, choose another port: PORT=<port> npm run demo`,
    );
  }
});

const base = `http://${HOST}:${port}`;
await waitHttp(`${base}/health`, 30_000);
// the token must be accepted by what answers on the port before it is shown to anyone
const owned = await fetch(`${base}/ops/mode`, { headers: { authorization: `Bearer ${token}` } }).then(
  (r) => r.status === 200,
  () => false,
);
if (!owned) {
  await fail(
    `something else answers on ${base} and refuses the demo's token. Choose another: PORT=<port> npm run demo`,
  );
}

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
const json = `-H 'content-type: application/json'`;
console.log(`
P2.8 Portfolio Risk Governor demo is running on ${base} (Ctrl-C stops everything)

  operator token : ${token}
  redis          : ${redisUrl}   (data in ${dataDir}/redis, ledger mirror ${dataDir}/ledger.jsonl)
  heat gate stub : ${feeder.heatUrl}

  operator CLI (p28ctl; in this checkout: npm run ctl -- ...), in another shell:
    export P28_URL=${base} P28_TOKEN=${token}
    status         : npm run ctl -- status
    budgets        : npm run ctl -- budgets
    shadow report  : npm run ctl -- shadow-report
    go enforce     : npm run ctl -- mode enforce --reason demo --expires 10m
    kill switch    : npm run ctl -- mode reduce-only --reason "demo drill"
    rollback       : npm run ctl -- rollback --reason "demo over"

  the same with curl:
    health         : curl ${base}/health
    metrics        : curl ${base}/metrics | grep ^p28_
    budgets        : curl ${auth} ${base}/budgets
    shadow report  : curl ${auth} ${base}/ops/shadow-report
    evaluate       : curl -X POST ${auth} ${json} ${base}/governor/evaluate -d '{"plan_id":"p1","symbol":"PEPEUSDT","side":"BUY","qty":1000000}'
    go enforce     : curl -X PUT ${auth} ${json} ${base}/ops/mode -d '{"mode":"enforce","reason":"demo","expires_in_sec":600}'
    kill switch    : curl -X PUT ${auth} ${json} ${base}/ops/mode -d '{"mode":"reduce_only","reason":"demo drill"}'
    rollback       : curl -X POST ${auth} ${json} ${base}/ops/rollback -d '{"reason":"demo over"}'
    docs           : ${base}/docs
`);
