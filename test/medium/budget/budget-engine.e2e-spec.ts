import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { ModeReader } from '../../../src/platform/mode/mode-reader.js';
import { PositionReader } from '../../../src/budget/inputs/position.reader.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { CONTRACT_BUDGET_FIELDS } from '../../support/contract.js';
import { metric } from '../../support/metrics.js';

const T0 = Date.UTC(2030, 0, 1); // ms; a fixed instant so ages are exact
const ALPHA = 0.4,
  BETA = 0.4,
  GAMMA = 0.2,
  RISK = 0.02,
  MIN = 500,
  MAX = 10000;

/** The contract's formula, written out independently of BudgetCalculator. */
function expected(equity: number, heat: number, cluster: number, vol: number, notional: number) {
  const stress = Math.min(1, Math.max(0, ALPHA * heat + BETA * cluster + GAMMA * vol));
  const budget = Math.min(MAX, Math.max(MIN, equity * RISK * (1 - stress)));
  return { stress, budget, utilization: notional / budget };
}

describe('budget engine tick against a real Redis', () => {
  let redis: TestRedis;
  let heat: HeatStub;
  let r: Redis;
  const apps: TestApp[] = [];

  async function boot(env: Record<string, string> = {}, clock = new ManualClock(T0)) {
    const t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        HEAT_GATE_METRICS_URL: heat.url,
        HEAT_TIMEOUT_MS: '500',
        ...env,
      },
      { clock },
    );
    apps.push(t);
    await t.app.get(BudgetScheduler).settled(); // the startup tick must not land inside a test
    return { t, clock, engine: t.app.get(BudgetEngine), metrics: t.app.get(Metrics) };
  }

  const nowSec = (clock: ManualClock) => Math.floor(clock.nowMs() / 1000);
  const putState = (equity: string | number, timestamp: number) =>
    r.hset('quantum:state:portfolio', {
      equity_usd: String(equity),
      drawdown: '0.03',
      timestamp: String(timestamp),
    });
  const budgetKeys = async () => (await r.keys('quantum:portfolio:budget:*')).sort();

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0.5);
    r = redis.client();
  });
  beforeEach(async () => {
    await redis.flush();
    heat.setHeat(0.5);
    heat.hang(false);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await heat?.close();
    await redis?.close();
  });

  it('a full tick writes every contract field, from both position patterns, per-symbol cluster and vol sources', async () => {
    const { clock, engine, metrics } = await boot();
    const now = nowSec(clock);
    const equity = 250000;
    await putState(equity, now - 5);
    await r.hset('quantum:portfolio:clusters', { alts: JSON.stringify(['SOLUSDT', 'ADAUSDT']) });
    await r.hset('quantum:portfolio:cluster_state:alts', { stress: '0.8' });
    await r.hset('quantum:portfolio:cluster_state', { cluster_stress: '0.2' });
    await r.hset('quantum:cluster:stress:default', { stress: '0.9' }); // shadowed by the portfolio-wide value
    // BTC: current pattern, vol from marketstate sigma (0.025 → 0.67), cluster portfolio-wide
    await r.hset('quantum:state:positions:BTCUSDT', {
      position_amt: '0.05',
      side: 'LONG',
      mark_price: '60000',
    });
    await r.hset('quantum:marketstate:BTCUSDT', { sigma: '0.025', ts_timestamp: String(now) });
    // SOL: legacy pattern only, price from current_price, vol from vol_regime, cluster "alts"
    await r.hset('quantum:position:snapshot:SOLUSDT', {
      position_amt: '-12',
      side: 'SHORT',
      current_price: '150',
    });
    await r.hset('quantum:state:market:SOLUSDT', { vol_regime: 'EXTREME_VOL', sigma: '0.001' });
    // ETH: under both patterns, the current one wins; legacy sigma 0.001 → 0
    await r.hset('quantum:state:positions:ETHUSDT', {
      position_amt: '0.4',
      side: 'LONG',
      mark_price: '3000',
    });
    await r.hset('quantum:position:snapshot:ETHUSDT', {
      position_amt: '9',
      side: 'LONG',
      mark_price: '3000',
    });
    await r.hset('quantum:state:market:ETHUSDT', { sigma: '0.001' });
    // not active
    await r.hset('quantum:state:positions:XRPUSDT', { position_amt: '100', side: 'FLAT', mark_price: '1' });
    await r.hset('quantum:position:snapshot:DOGEUSDT', { position_amt: '0', side: 'LONG', mark_price: '1' });

    const before = heat.requests;
    const res = await engine.tick();
    expect(heat.requests - before).toBe(1);
    expect(res).toMatchObject({
      outcome: 'written',
      portfolio: 'fresh',
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
      written: 3,
    });
    expect(res.roundTrips - res.scanRoundTrips).toBe(4); // 2 reads, the writes, the status

    const cases = [
      { symbol: 'BTCUSDT', cluster: 0.2, vol: 0.67, notional: 0.05 * 60000 },
      { symbol: 'SOLUSDT', cluster: 0.8, vol: 1.0, notional: 12 * 150 },
      { symbol: 'ETHUSDT', cluster: 0.2, vol: 0.0, notional: 0.4 * 3000 },
    ];
    for (const c of cases) {
      const key = `quantum:portfolio:budget:${c.symbol}`;
      const h = await r.hgetall(key);
      const e = expected(equity, 0.5, c.cluster, c.vol, c.notional);
      expect(Object.keys(h).sort()).toEqual([...CONTRACT_BUDGET_FIELDS].sort());
      expect(h.symbol).toBe(c.symbol);
      expect(Number(h.budget_usd)).toBeCloseTo(e.budget, 2);
      expect(Number(h.stress_factor)).toBeCloseTo(e.stress, 6);
      expect(Number(h.equity_usd)).toBe(equity);
      expect(Number(h.portfolio_heat)).toBe(0.5);
      expect(Number(h.cluster_stress)).toBe(c.cluster);
      expect(Number(h.vol_regime)).toBe(c.vol);
      expect(h.mode).toBe('shadow');
      expect(Number(h.timestamp)).toBe(now);
      expect(Number(h.base_risk_pct)).toBe(RISK);
      expect(Number(h.position_notional)).toBeCloseTo(c.notional, 2);
      expect(Number(h.utilization)).toBeCloseTo(e.utilization, 5);
      const ttl = await r.ttl(key);
      expect(ttl).toBeGreaterThan(290);
      expect(ttl).toBeLessThanOrEqual(300);
      expect(await metric(metrics.budgetValue, { symbol: c.symbol })).toBeCloseTo(e.budget, 2);
      expect(await metric(metrics.stressFactor, { symbol: c.symbol })).toBeCloseTo(e.stress, 6);
      expect(await metric(metrics.budgetComputed, { symbol: c.symbol })).toBe(1);
    }
    expect(await budgetKeys()).toHaveLength(3);
    expect(await metric(metrics.activeSymbols)).toBe(3);
    expect(await metric(metrics.loopLastSuccess)).toBe(now);

    // flat with a live market-state key: still in the universe, budgeted at notional 0
    await r.hset('quantum:state:positions:BTCUSDT', { side: 'FLAT' });
    await engine.tick();
    expect(Number(await r.hget('quantum:portfolio:budget:BTCUSDT', 'position_notional'))).toBe(0);
    expect(await metric(metrics.activeSymbols)).toBe(3);
    // a symbol that leaves the universe loses its gauge series
    await r.del('quantum:marketstate:BTCUSDT');
    await engine.tick();
    expect((await metrics.budgetValue.get()).values.map((v) => v.labels.symbol).sort()).toEqual([
      'ETHUSDT',
      'SOLUSDT',
    ]);
    expect(await metric(metrics.activeSymbols)).toBe(2);
  });

  it('Redis round trips of a tick do not grow with the symbol count', async () => {
    const { clock, engine } = await boot();
    await putState(100000, nowSec(clock));
    const fill = async (from: number, to: number) => {
      const p = r.pipeline();
      for (let i = from; i < to; i++) {
        p.hset(`quantum:state:positions:S${i}USDT`, { position_amt: '1', side: 'LONG', mark_price: '10' });
        p.hset(`quantum:marketstate:S${i}USDT`, { sigma: '0.01' });
      }
      await p.exec();
    };
    await fill(0, 5);
    const small = await engine.tick();
    await fill(5, 400);
    const big = await engine.tick();
    expect(small.written).toBe(5);
    expect(big.written).toBe(400);
    expect(big.roundTrips - big.scanRoundTrips).toBe(small.roundTrips - small.scanRoundTrips);
    expect(big.roundTrips - big.scanRoundTrips).toBe(4);
  });

  describe('violations', () => {
    it('an over-budget position gives exactly one stream entry per tick in the contract shape; an under-budget one none', async () => {
      const { t, clock, engine, metrics } = await boot();
      const now = nowSec(clock);
      heat.setHeat(0);
      await putState(100000, now); // stress = 0.2·0.33 (no vol data) → budget 1868.00
      await r.hset('quantum:state:positions:BTCUSDT', {
        position_amt: '1',
        side: 'LONG',
        mark_price: '2500',
      });
      await r.hset('quantum:state:positions:ETHUSDT', {
        position_amt: '1',
        side: 'LONG',
        mark_price: '1000',
      });
      vi.spyOn(t.app.get(ModeReader), 'effectiveMode').mockImplementation((s: string) =>
        s === 'BTCUSDT' ? 'enforce' : 'shadow',
      );

      const res = await engine.tick();
      expect(res.violations).toEqual(['BTCUSDT']);
      const entries = await r.xrange('quantum:stream:budget.violation', '-', '+');
      expect(entries).toHaveLength(1);
      const fields = Object.fromEntries(
        entries[0][1].reduce<Array<[string, string]>>(
          (acc, v, i, a) => (i % 2 ? acc : [...acc, [v, a[i + 1]]]),
          [],
        ),
      );
      expect(fields.symbol).toBe('BTCUSDT');
      const budget = expected(100000, 0, 0, 0.33, 2500).budget;
      expect(JSON.parse(fields.json)).toEqual({
        event_type: 'budget.violation',
        symbol: 'BTCUSDT',
        position_notional: 2500,
        budget_usd: Math.round(budget * 100) / 100,
        over_budget: Math.round((2500 - budget) * 100) / 100,
        mode: 'enforce',
        timestamp: now,
      });
      const vh = await r.hgetall('quantum:portfolio:violation:BTCUSDT');
      expect(vh).toMatchObject({
        event_type: 'budget.violation',
        symbol: 'BTCUSDT',
        mode: 'enforce',
        timestamp: String(now),
      });
      expect(Number(vh.over_budget)).toBeCloseTo(2500 - budget, 2);
      const ttl = await r.ttl('quantum:portfolio:violation:BTCUSDT');
      expect(ttl).toBeGreaterThan(110);
      expect(ttl).toBeLessThanOrEqual(120);
      expect(await r.exists('quantum:portfolio:violation:ETHUSDT')).toBe(0);
      expect(await r.hget('quantum:portfolio:budget:BTCUSDT', 'mode')).toBe('enforce');
      expect(await metric(metrics.budgetBlocks, { symbol: 'BTCUSDT' })).toBe(1);

      await engine.tick();
      expect(await r.xlen('quantum:stream:budget.violation')).toBe(2);
      expect(await metric(metrics.budgetBlocks, { symbol: 'BTCUSDT' })).toBe(2);
      expect(await metric(metrics.budgetBlocks, { symbol: 'ETHUSDT' })).toBe(0);
    });

    it('the violation stream is capped near VIOLATION_STREAM_MAXLEN', async () => {
      const { clock, engine } = await boot({ VIOLATION_STREAM_MAXLEN: '10' });
      await putState(100000, nowSec(clock));
      const p = r.pipeline();
      for (let i = 0; i < 300; i++)
        p.hset(`quantum:state:positions:X${i}`, { position_amt: '1', side: 'LONG', mark_price: '99999' });
      await p.exec();
      const res = await engine.tick();
      expect(res.violations).toHaveLength(300);
      // MAXLEN ~ trims whole radix-tree nodes (100 entries by default), never below the cap
      const len = await r.xlen('quantum:stream:budget.violation');
      expect(len).toBeGreaterThanOrEqual(10);
      expect(len).toBeLessThan(300);
    });
  });

  describe('last-known-good portfolio state', () => {
    it('caches a fresh state, writes from it 5 minutes later, and stops writing at 16 minutes', async () => {
      const { clock, engine, metrics } = await boot();
      const t0 = nowSec(clock);
      await putState(200000, t0);
      await r.hset('quantum:state:positions:BTCUSDT', {
        position_amt: '0.01',
        side: 'LONG',
        mark_price: '50000',
      });

      expect((await engine.tick()).portfolio).toBe('fresh');
      await r.del('quantum:state:portfolio');

      clock.advance(5 * 60_000);
      const lkgBefore = await metric(metrics.lkgUsed);
      await r.del('quantum:portfolio:budget:BTCUSDT');
      const lkg = await engine.tick();
      expect(lkg).toMatchObject({ outcome: 'written', portfolio: 'lkg', written: 1 });
      expect(await metric(metrics.lkgUsed)).toBe(lkgBefore + 1);
      const h = await r.hgetall('quantum:portfolio:budget:BTCUSDT');
      expect(Number(h.equity_usd)).toBe(200000);
      expect(Number(h.timestamp)).toBe(t0 + 300); // written now, from the cached state

      clock.advance(11 * 60_000); // the cached state is now 16 minutes old
      await r.del('quantum:portfolio:budget:BTCUSDT');
      const tooOldBefore = await metric(metrics.portfolioTooOld);
      const old = await engine.tick();
      expect(old).toMatchObject({ outcome: 'too_old', written: 0 });
      expect(await metric(metrics.portfolioTooOld)).toBe(tooOldBefore + 1);
      expect(await budgetKeys()).toEqual([]);
      expect((await metrics.budgetValue.get()).values).toEqual([]);
    });

    it('a replica with an empty cache uses a 5-minute-old state from Redis, but not a 16-minute-old one', async () => {
      const { clock, engine, metrics } = await boot();
      await r.hset('quantum:state:positions:BTCUSDT', {
        position_amt: '0.01',
        side: 'LONG',
        mark_price: '50000',
      });
      await putState(150000, nowSec(clock) - 5 * 60);
      const lkgBefore = await metric(metrics.lkgUsed);
      expect(await engine.tick()).toMatchObject({ portfolio: 'lkg', written: 1 });
      expect(await metric(metrics.lkgUsed)).toBe(lkgBefore + 1);
      expect(Number(await r.hget('quantum:portfolio:budget:BTCUSDT', 'equity_usd'))).toBe(150000);

      const second = await boot();
      await r.del('quantum:portfolio:budget:BTCUSDT');
      await putState(150000, nowSec(second.clock) - 16 * 60);
      const before = await metric(second.metrics.portfolioTooOld);
      expect(await second.engine.tick()).toMatchObject({ outcome: 'too_old', written: 0 });
      expect(await metric(second.metrics.portfolioTooOld)).toBe(before + 1);
      expect(await budgetKeys()).toEqual([]);
    });

    it('no state and no cache counts p28_missing_portfolio_state_total and writes nothing', async () => {
      const { engine, metrics } = await boot();
      await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '10' });
      const before = await metric(metrics.missingPortfolio);
      expect(await engine.tick()).toMatchObject({
        outcome: 'missing_state',
        portfolio: 'missing',
        symbols: ['BTCUSDT'],
      });
      expect(await metric(metrics.missingPortfolio)).toBe(before + 1);
      expect(await budgetKeys()).toEqual([]);
    });

    it('a failed SCAN does not hide a state read fine: the tick fails, the state counts as fresh', async () => {
      const { clock, engine, metrics, t } = await boot();
      await putState(90000, nowSec(clock));
      const before = { missing: await metric(metrics.missingPortfolio), lkg: await metric(metrics.lkgUsed) };
      // e.g. one cluster master failing over: SCAN covers every master, the state key sits on another
      vi.spyOn(t.app.get(PositionReader), 'discover').mockRejectedValueOnce(new Error('SCAN: master down'));
      expect(await engine.tick()).toMatchObject({ outcome: 'failed', portfolio: 'fresh' });
      expect(await metric(metrics.missingPortfolio)).toBe(before.missing);
      expect(await metric(metrics.lkgUsed)).toBe(before.lkg);
    });

    it('a Redis that fails every read still counts the LKG outcome: lkg with a cache, missing without', async (ctx) => {
      if (!redis.controllable) ctx.skip(); // cannot freeze an external Redis
      // no cache: the failed read counts as a missing state
      const cold = await boot({ REDIS_COMMAND_TIMEOUT_MS: '300' });
      const missingBefore = await metric(cold.metrics.missingPortfolio);
      const lkgBefore = await metric(cold.metrics.lkgUsed);
      redis.freeze();
      let failed;
      try {
        failed = await cold.engine.tick();
      } finally {
        redis.thaw();
      }
      expect(failed).toMatchObject({ outcome: 'failed', portfolio: 'missing', written: 0 });
      expect(await metric(cold.metrics.missingPortfolio)).toBe(missingBefore + 1);
      expect(await metric(cold.metrics.lkgUsed)).toBe(lkgBefore);

      // a cached state 5 minutes old: the failed read is served from the cache, and counted so
      await putState(90000, nowSec(cold.clock));
      await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '10' });
      expect(await cold.engine.tick()).toMatchObject({ outcome: 'written', portfolio: 'fresh' });
      cold.clock.advance(5 * 60_000);
      redis.freeze();
      try {
        failed = await cold.engine.tick();
      } finally {
        redis.thaw();
      }
      expect(failed).toMatchObject({ outcome: 'failed', portfolio: 'lkg' });
      expect(await metric(cold.metrics.lkgUsed)).toBe(lkgBefore + 1);
      expect(await metric(cold.metrics.missingPortfolio)).toBe(missingBefore + 1);
    });

    it('a Redis error reading the state behaves like a missing state (cache used, else missing)', async () => {
      const { clock, engine, metrics } = await boot();
      await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '10' });
      await r.set('quantum:state:portfolio', 'not a hash'); // HMGET → WRONGTYPE
      const missingBefore = await metric(metrics.missingPortfolio);
      expect(await engine.tick()).toMatchObject({ portfolio: 'missing' });
      expect(await metric(metrics.missingPortfolio)).toBe(missingBefore + 1);

      await r.del('quantum:state:portfolio');
      await putState(80000, nowSec(clock));
      await engine.tick();
      await r.set('quantum:state:portfolio', 'not a hash');
      clock.advance(60_000);
      expect(await engine.tick()).toMatchObject({ portfolio: 'lkg', written: 1 });
    });
  });

  it('garbage inputs (equity abc, price NaN, sigma -1) are skipped and counted; nothing non-finite is written', async () => {
    const { clock, engine, metrics, t } = await boot();
    await putState(100000, nowSec(clock));
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    await r.hset('quantum:state:positions:ETHUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    await r.hset('quantum:state:positions:SOLUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    await engine.tick(); // caches the good state

    await putState('abc', nowSec(clock));
    await r.hset('quantum:state:positions:BTCUSDT', { mark_price: 'NaN' });
    await r.hset('quantum:marketstate:ETHUSDT', { sigma: '-1' });
    await r.hset('quantum:portfolio:cluster_state', { cluster_stress: 'Infinity' });
    await r.hset('quantum:state:positions:ADAUSDT', { position_amt: 'lots', side: 'LONG', mark_price: '1' });
    heat.setHeat('NaN');
    const stale = async (type: string) => metric(metrics.staleInput, { input_type: type });
    const before = {
      portfolio: await stale('portfolio'),
      position: await stale('position'),
      vol: await stale('vol'),
      heat: await stale('heat'),
      cluster: await stale('cluster'),
    };
    const linesBefore = t.logs.filter((l) => l.msg === 'inputs missing or garbage this tick').length;

    const res = await engine.tick();
    expect(res).toMatchObject({
      outcome: 'written',
      portfolio: 'lkg',
      symbols: ['ETHUSDT', 'SOLUSDT'],
      written: 2,
    });
    expect(await stale('portfolio')).toBe(before.portfolio + 1);
    expect(await stale('position')).toBe(before.position + 2); // BTC price, ADA amount
    expect(await stale('vol')).toBeGreaterThanOrEqual(before.vol + 1);
    expect(await stale('heat')).toBe(before.heat + 1);
    expect(await stale('cluster')).toBeGreaterThanOrEqual(before.cluster + 1);
    expect(await r.exists('quantum:portfolio:budget:BTCUSDT')).toBe(1); // last tick's, not rewritten
    expect(Number(await r.hget('quantum:portfolio:budget:ETHUSDT', 'vol_regime'))).toBe(0.33);
    expect(Number(await r.hget('quantum:portfolio:budget:ETHUSDT', 'portfolio_heat'))).toBe(0);
    // one aggregated log line for the tick, not one per bad symbol
    expect(t.logs.filter((l) => l.msg === 'inputs missing or garbage this tick').length).toBe(
      linesBefore + 1,
    );

    // scan everything this service wrote: no NaN / Infinity anywhere
    const bad = /nan|infinity/i;
    const written = [
      ...(await r.keys('quantum:portfolio:budget:*')),
      ...(await r.keys('quantum:portfolio:violation:*')),
    ];
    expect(written.length).toBeGreaterThanOrEqual(3);
    for (const key of written) {
      for (const [f, v] of Object.entries(await r.hgetall(key))) expect(`${key}.${f}=${v}`).not.toMatch(bad);
    }
    for (const [, fields] of await r.xrange('quantum:stream:budget.violation', '-', '+')) {
      for (const v of fields) expect(v).not.toMatch(bad);
    }
  });

  it('the per-symbol gauges follow the budget from tick to tick, leave with the symbol and come back with it', async () => {
    const { clock, engine, metrics } = await boot();
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    // the hash holds ratios to 6 decimals, the gauges the unrounded values
    const r6 = (n: number) => Math.round(n * 1e6) / 1e6;
    const shown = async () => ({
      budget: await metric(metrics.budgetValue, { symbol: 'BTCUSDT' }),
      stress: r6(await metric(metrics.stressFactor, { symbol: 'BTCUSDT' })),
      utilization: r6(await metric(metrics.utilization, { symbol: 'BTCUSDT' })),
    });
    const written = async () => {
      const h = await r.hgetall('quantum:portfolio:budget:BTCUSDT');
      return {
        budget: Number(h.budget_usd),
        stress: Number(h.stress_factor),
        utilization: Number(h.utilization),
      };
    };

    await putState(100000, nowSec(clock));
    await engine.tick();
    const first = await written();
    expect(await shown()).toEqual(first);
    await engine.tick(); // same budget again
    expect(await shown()).toEqual(first);

    heat.setHeat(0.9);
    await putState(50000, nowSec(clock));
    await engine.tick();
    const second = await written();
    expect(second.budget).not.toBe(first.budget);
    expect(second.stress).not.toBe(first.stress);
    expect(await shown()).toEqual(second);

    await r.del('quantum:state:positions:BTCUSDT');
    await engine.tick();
    expect((await metrics.budgetValue.get()).values).toEqual([]);
    expect((await metrics.stressFactor.get()).values).toEqual([]);

    // back with the same budget as before it left: the gauges must show it again
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    await engine.tick();
    expect(await written()).toEqual(second);
    expect(await shown()).toEqual(second);
  });

  it('failed writes are counted, only the failed symbol loses its budget; the loop success gauge moves (a budget was written)', async () => {
    const { clock, engine, metrics, t } = await boot();
    await putState(100000, nowSec(clock));
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    await r.hset('quantum:state:positions:ETHUSDT', { position_amt: '1', side: 'LONG', mark_price: '99999' });
    await r.set('quantum:portfolio:budget:BTCUSDT', 'wrong type'); // HSET fails (EXPIRE still succeeds)
    await r.set('quantum:stream:budget.violation', 'wrong type'); // XADD fails
    const failsBefore = await metric(metrics.redisWriteFail);
    const lastSuccess = await metric(metrics.loopLastSuccess);
    clock.advance(1000);

    const res = await engine.tick();
    expect(res.writeFailures).toBe(2);
    expect(await metric(metrics.redisWriteFail)).toBe(failsBefore + 2);
    expect(res.written).toBe(1); // ETH's budget hash is written; BTC's is not
    expect(Number(await r.hget('quantum:portfolio:budget:ETHUSDT', 'position_notional'))).toBe(99999);
    expect(res.violations).toEqual(['ETHUSDT']); // found (and counted) even though its XADD failed
    expect(await metric(metrics.budgetValue, { symbol: 'BTCUSDT' })).toBe(0);
    expect((await metrics.budgetValue.get()).values.map((v) => v.labels.symbol)).toEqual(['ETHUSDT']);
    expect(lastSuccess).not.toBe(nowSec(clock));
    expect(await metric(metrics.loopLastSuccess)).toBe(nowSec(clock));
    expect(t.logs.some((l) => l.msg === 'budget writes failed')).toBe(true);
  });

  it('a stalled Redis fails the tick within REDIS_COMMAND_TIMEOUT_MS, and the next tick recovers', async () => {
    if (!redis.controllable) return; // cannot freeze an external Redis
    const { clock, engine, metrics } = await boot({ REDIS_COMMAND_TIMEOUT_MS: '300' });
    await putState(100000, nowSec(clock));
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    const lastSuccess = await metric(metrics.loopLastSuccess);
    redis.freeze();
    let failed;
    const started = performance.now();
    try {
      failed = await engine.tick();
    } finally {
      redis.thaw();
    }
    expect(performance.now() - started).toBeLessThan(1500);
    expect(failed.outcome).toBe('failed');
    expect(await metric(metrics.loopLastSuccess)).toBe(lastSuccess);
    clock.advance(1000);
    const next = await waitFor(
      async () => {
        const res = await engine.tick();
        return res.outcome === 'written' ? res : undefined;
      },
      { timeoutMs: 5000, what: 'a tick that writes again' },
    );
    expect(next.written).toBe(1);
    expect(await metric(metrics.loopLastSuccess)).toBe(nowSec(clock));
  });

  it('a hanging heat gate: the tick still completes within its interval and counts heat stale', async () => {
    // HEAT_TIMEOUT_MS above the interval: the engine bounds the fetch by half an interval
    const { clock, engine, metrics } = await boot({
      BUDGET_COMPUTE_INTERVAL_SEC: '1',
      HEAT_TIMEOUT_MS: '10000',
    });
    await putState(100000, nowSec(clock));
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '100' });
    heat.hang(true);
    const before = await metric(metrics.staleInput, { input_type: 'heat' });
    const started = performance.now();
    const res = await engine.tick();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000);
    expect(res.heat.status).toBe('missing');
    expect(res.stale.heat?.count).toBe(1);
    expect(res.written).toBe(1);
    expect(Number(await r.hget('quantum:portfolio:budget:BTCUSDT', 'portfolio_heat'))).toBe(0);
    expect(await metric(metrics.staleInput, { input_type: 'heat' })).toBeGreaterThanOrEqual(before + 1);
  });
});
