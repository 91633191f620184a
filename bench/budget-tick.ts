/**
 * Budget tick time vs active-symbol count, pipelined engine vs a naive one-command-at-a-time tick.
 *
 *   node --max-semi-space-size=64 --import @swc-node/register/esm-register bench/budget-tick.ts
 *   ... bench/budget-tick.ts --smoke          # CI: small N, 1 run
 *   ... bench/budget-tick.ts --sizes=10000    # chosen sizes
 *   ... bench/budget-tick.ts --engine-only    # no naive runs (profiling)
 *
 * Run it with the V8 flags `npm start` uses (--max-semi-space-size=64), as `npm run bench` does:
 * the tick's garbage collection depends on them. The engine's round trips are waits: every
 * command of a batch is written before its replies are awaited (see RedisSession); SCAN pages
 * are counted apart, as they grow with the keyspace.
 *
 * Starts its own redis-server (or uses REDIS_URL) and a local heat-gate stub; boots the real app
 * with a long interval so only the ticks called here run. Exits non-zero when a check fails.
 */
import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import type { Redis } from 'ioredis';
import { budgetParams } from '../src/budget/budget.calculator.js';
import { BudgetCalculator } from '../src/core/budget-calculator.js';
import { BudgetEngine } from '../src/budget/budget.engine.js';
import { BudgetRepository } from '../src/budget/budget.repository.js';
import { BudgetScheduler } from '../src/budget/budget.scheduler.js';
import { ClusterStressReader } from '../src/budget/inputs/cluster-stress.reader.js';
import { HeatReader } from '../src/budget/inputs/heat.reader.js';
import { PortfolioStateReader } from '../src/budget/inputs/portfolio-state.reader.js';
import { PositionReader } from '../src/budget/inputs/position.reader.js';
import { clamp01, StaleInputs } from '../src/budget/inputs/reading.js';
import { parseNumber } from '../src/core/numbers.js';
import { VolatilityReader } from '../src/budget/inputs/volatility.reader.js';
import { ManualClock } from '../src/platform/clock/clock.js';
import { POSITION_FIELDS } from '../src/core/position.js';
import type { AppConfig } from '../src/platform/config/index.js';
import { Keys, symbolFromKey } from '../src/platform/redis/keys.js';
import { createTestApp } from '../test/support/app.js';
import { startHeatStub } from '../test/support/heat-stub.js';
import { startTestRedis } from '../test/support/redis-server.js';

const smoke = process.argv.includes('--smoke');
const sizesArg = process.argv.find((a) => a.startsWith('--sizes='));
const SIZES = sizesArg
  ? sizesArg.slice('--sizes='.length).split(',').map(Number)
  : smoke
    ? [100]
    : [100, 1_000, 10_000];
const RUNS = smoke ? 1 : 5;
// --engine-only skips the naive runs (for profiling the engine alone)
const NAIVE_RUNS = process.argv.includes('--engine-only') ? 0 : smoke ? 1 : 3;
// untimed runs of both ticks at each size before the timed ones: the first ticks of a process
// run cold (unoptimised) code, which a service ticking every 10 s for days does not
const WARMUP = smoke ? 1 : 2;
const TARGET_10K_MS = 500;
const TARGET_RATIO = 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * N budgeted symbols with vol and cluster inputs: one in five is flat, in the universe only through
 * its market-state key (CONTRACT.md §2); the others are active positions, half under each position
 * pattern; 5% over budget.
 */
async function seed(r: Redis, n: number, nowSec: number) {
  await r.flushdb();
  const p = r.pipeline();
  p.hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0.02', timestamp: String(nowSec) });
  p.hset(Keys.portfolioClusterState, { cluster_stress: '0.2' });
  const clusters: Record<string, string[]> = { c0: [], c1: [], c2: [], c3: [] };
  for (let i = 0; i < n; i++) {
    const s = `SYM${i}USDT`;
    const key = i % 2 ? Keys.legacyPosition(s) : Keys.position(s);
    const price = i % 20 === 0 ? '5000' : '10'; // notional 5000 > any budget ≤ 2000 here → violation
    const flat = i % 5 === 4;
    if (!flat) p.hset(key, { position_amt: '1', side: 'LONG', mark_price: price });
    const sigma = String(0.001 + (i % 40) * 0.001);
    if (flat || i % 3 === 0) p.hset(Keys.marketState(s), { sigma, ts_timestamp: String(nowSec) });
    else p.hset(Keys.legacyMarketState(s), { vol_regime: i % 3 === 1 ? 'HIGH' : 'LOW' });
    if (i % 4 !== 3) clusters[`c${i % 4}`].push(s);
  }
  for (const [id, members] of Object.entries(clusters)) {
    p.hset(Keys.clusters, id, JSON.stringify(members));
    p.hset(Keys.clusterState(id), { stress: String(0.1 * (Number(id.slice(1)) + 1)) });
  }
  await p.exec();
}

/** Every budget and violation hash of the seeded symbols, as sorted `field=value` lines. */
async function snapshot(r: Redis, n: number): Promise<Map<string, string>> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(Keys.budget(`SYM${i}USDT`));
    if (i % 20 === 0) keys.push(Keys.violation(`SYM${i}USDT`));
  }
  const p = r.pipeline();
  for (const k of keys) p.hgetall(k);
  const replies = (await p.exec()) ?? [];
  const out = new Map<string, string>();
  replies.forEach(([err, hash], i) => {
    if (err) throw err;
    const entries = Object.entries(hash as Record<string, string>);
    if (entries.length === 0) return;
    out.set(
      keys[i],
      entries
        .map(([f, v]) => `${f}=${v}`)
        .sort()
        .join('\n'),
    );
  });
  return out;
}

/**
 * The same tick, written the obvious way: every read and write awaited one at a time. Same
 * parsers, calculator and serialisation as the engine, so the outputs are comparable.
 */
async function naiveTick(r: Redis, config: AppConfig, clock: ManualClock) {
  let trips = 0;
  const send = async <T>(cmd: string, ...args: Array<string | number>): Promise<T> => {
    trips += 1;
    return (await r.call(cmd, ...args)) as T;
  };
  const stale = new StaleInputs();
  const calc = new BudgetCalculator(budgetParams(config));
  const repo = new BudgetRepository(config);
  const res = await fetch(config.HEAT_GATE_METRICS_URL, {
    signal: AbortSignal.timeout(config.HEAT_TIMEOUT_MS),
  });
  const heat = HeatReader.fromText(await res.text(), config.HEAT_METRIC_NAME).value;
  const state = PortfolioStateReader.parse(
    await send<Array<string | null>>('hmget', Keys.portfolioState, 'equity_usd', 'drawdown', 'timestamp'),
    stale,
  ).value;
  if (!state) throw new Error('naive: no state');

  const bySymbol = new Map<string, string[]>();
  const universe = new Set<string>(config.BUDGET_UNIVERSE);
  for (const pattern of [...config.POSITION_KEY_PATTERNS, Keys.marketStatePattern]) {
    let cursor = '0';
    do {
      const [next, keys] = await send<[string, string[]]>('scan', cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (const k of keys) {
        const s = symbolFromKey(k, pattern);
        if (!s) continue;
        if (pattern === Keys.marketStatePattern) universe.add(s);
        else bySymbol.set(s, [...(bySymbol.get(s) ?? []), k]);
      }
      cursor = next;
    } while (cursor !== '0');
  }
  for (const s of universe) if (!bySymbol.has(s)) bySymbol.set(s, []);
  // ioredis turns an HGETALL reply into an object, `call` included
  const membership = await send<Record<string, string>>('hgetall', Keys.clusters);
  const { clustersOf } = ClusterStressReader.parseMembership([null, membership]);
  const wide = parseNumber(await send('hget', Keys.portfolioClusterState, 'cluster_stress'), 'nonNegative');
  const legacy = parseNumber(await send('hget', Keys.legacyClusterStress, 'stress'), 'nonNegative');

  const now = clock.nowSec();
  let written = 0;
  for (const [symbol, keys] of bySymbol) {
    let pos;
    for (const key of keys) {
      const fields = await send<Array<string | null>>('hmget', key, ...POSITION_FIELDS);
      const parsed = PositionReader.parse(symbol, key, fields);
      if (parsed.kind === 'active') pos = parsed.position;
      if (parsed.kind === 'active' || parsed.kind === 'inactive') break;
    }
    if (!pos && !universe.has(symbol)) continue;
    const notional = pos?.notional ?? 0;
    let cluster: number | undefined;
    for (const id of clustersOf.get(symbol) ?? []) {
      const p = parseNumber(await send('hget', Keys.clusterState(id), 'stress'), 'nonNegative');
      if (p.ok) cluster = Math.max(cluster ?? 0, clamp01(p.n));
    }
    cluster ??= wide.ok ? clamp01(wide.n) : legacy.ok ? clamp01(legacy.n) : 0;
    const [sigma, ts] = await send<Array<string | null>>(
      'hmget',
      Keys.marketState(symbol),
      'sigma',
      'ts_timestamp',
    );
    const [regime, legacySigma] = await send<Array<string | null>>(
      'hmget',
      Keys.legacyMarketState(symbol),
      'vol_regime',
      'sigma',
    );
    const vol = VolatilityReader.resolve(
      symbol,
      { sigma, ts_timestamp: ts },
      { vol_regime: regime, sigma: legacySigma },
      stale,
      { nowSec: clock.nowSec(), maxAgeSec: config.INPUT_MAX_AGE_SEC },
    ).value;
    const out = calc.compute({
      equityUsd: state.equityUsd,
      heat,
      cluster,
      vol,
      positionNotional: notional,
    });
    if (!out.ok) continue;
    const c = out.result;
    const mode = 'shadow' as const;
    const cmds = repo.budgetCommands({
      symbol,
      budget_usd: c.budgetUsd,
      stress_factor: c.stress,
      equity_usd: state.equityUsd,
      portfolio_heat: heat,
      cluster_stress: cluster,
      vol_regime: vol,
      mode,
      timestamp: now,
      base_risk_pct: config.BASE_RISK_PCT,
      position_notional: c.positionNotional,
      utilization: c.utilization,
      // the bench's market states carry no price: a flat symbol has none, as in the engine
      price: pos?.price ?? null,
      // the policy seeded from the environment, as the engine's first tick sees it
      policy_version: 0,
    });
    if (c.violation) {
      cmds.push(
        ...repo.violationCommands({
          event_type: 'budget.violation',
          symbol,
          position_notional: c.positionNotional,
          budget_usd: c.budgetUsd,
          over_budget: c.overBudget,
          mode,
          timestamp: now,
        }),
      );
    }
    for (const [name, ...args] of cmds) await send(name, ...args);
    written += 1;
  }
  return { written, roundTrips: trips };
}

async function main() {
  const redis = await startTestRedis();
  const heat = await startHeatStub(0.3);
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const t = await createTestApp(
    {
      REDIS_URL: redis.url,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      HEAT_GATE_METRICS_URL: heat.url,
      LOG_LEVEL: 'error',
    },
    { clock },
  );
  const r = redis.client();
  const failures: string[] = [];
  const rows: Array<Record<string, number>> = [];
  try {
    await t.app.get(BudgetScheduler).settled();
    const engine = t.app.get(BudgetEngine);
    // warm the process up once (JIT of the engine, the naive tick, ioredis, the heat fetch), so
    // the first size measured does not pay for it alone
    if (!smoke) {
      await seed(r, 1000, clock.nowSec());
      for (let i = 0; i < 10; i++) await engine.tick();
      if (NAIVE_RUNS > 0) for (let i = 0; i < 2; i++) await naiveTick(r, t.config, clock);
    }
    for (const n of SIZES) {
      await seed(r, n, clock.nowSec());
      for (let i = 0; i < WARMUP; i++) {
        await engine.tick();
        if (NAIVE_RUNS > 0) await naiveTick(r, t.config, clock);
      }
      // engine and naive runs alternate, so load that comes and goes on the machine hits both
      const times: number[] = [];
      const naiveTimes: number[] = [];
      let trips = 0;
      let scanTrips = 0;
      let naiveTrips = 0;
      for (let i = 0; i < RUNS; i++) {
        const res = await engine.tick();
        if (res.written !== n) failures.push(`engine wrote ${res.written}/${n} budgets`);
        times.push(res.durationMs);
        trips = res.roundTrips;
        scanTrips = res.scanRoundTrips;
        if (i >= NAIVE_RUNS) continue;

        // the naive tick must write exactly what the engine wrote: take every budget and
        // violation hash, delete them, run the naive tick, compare
        const fromEngine = await snapshot(r, n);
        await r.del(...fromEngine.keys());
        const started = performance.now();
        const naive = await naiveTick(r, t.config, clock);
        naiveTimes.push(performance.now() - started);
        naiveTrips = naive.roundTrips;
        if (naive.written !== n) failures.push(`naive wrote ${naive.written}/${n} budgets`);
        const fromNaive = await snapshot(r, n);
        const differ = [...fromEngine].filter(([k, v]) => fromNaive.get(k) !== v).map(([k]) => k);
        if (differ.length > 0 || fromNaive.size !== fromEngine.size) {
          const first = differ[0];
          failures.push(
            `N=${n}: naive and engine wrote different hashes (${differ.length} of ${fromEngine.size}, ` +
              `naive wrote ${fromNaive.size})` +
              (first ? `; ${first}: engine {${fromEngine.get(first)}} naive {${fromNaive.get(first)}}` : ''),
          );
        }
      }
      const row = {
        symbols: n,
        engine_ms: median(times),
        engine_round_trips: trips,
        engine_scan_round_trips: scanTrips,
        naive_ms: median(naiveTimes),
        naive_round_trips: naiveTrips,
        speedup: median(naiveTimes) / median(times),
      };
      rows.push(row);
      // reads, writes, then the status written from the write replies: flat in the symbol count
      if (trips - scanTrips !== 4)
        failures.push(`N=${n}: ${trips - scanTrips} non-SCAN round trips, expected 4`);
      if (!smoke && row.speedup < TARGET_RATIO)
        failures.push(`N=${n}: speedup ${row.speedup.toFixed(1)}× < ${TARGET_RATIO}×`);
      if (n === 10_000 && row.engine_ms > TARGET_10K_MS) {
        failures.push(`10,000 symbols took ${row.engine_ms.toFixed(0)} ms > ${TARGET_10K_MS} ms`);
      }
    }
  } finally {
    await t.close();
    await heat.close();
    await redis.close();
  }

  const fmt = (x: number, d = 1) => x.toFixed(d).padStart(10);
  console.log(
    `budget tick: median of ${RUNS} engine / ${NAIVE_RUNS} naive runs${smoke ? ' (smoke)' : ''}; ` +
      'symbols = budgeted, one in five flat (universe via its market-state key)',
  );
  // redis-server, the app and the bench share the CPUs: a busy machine inflates every figure
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  console.log('   symbols  engine ms  trips(scan)   naive ms  naive trips    speedup');
  for (const row of rows) {
    console.log(
      `${String(row.symbols).padStart(10)} ${fmt(row.engine_ms)} ${`${row.engine_round_trips}(${row.engine_scan_round_trips})`.padStart(12)} ${fmt(row.naive_ms)} ${String(row.naive_round_trips).padStart(12)} ${fmt(row.speedup)}×`,
    );
  }
  console.log(JSON.stringify({ bench: 'budget-tick', smoke, loadavg: loadavg(), rows }));
  if (failures.length) {
    console.error(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
