import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BudgetEngine } from '../../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../../src/platform/clock/clock.js';
import type { Mode } from '../../../../src/platform/config/index.js';
import { Metrics } from '../../../../src/platform/observability/metrics.js';
import { ModeReader } from '../../../../src/platform/mode/mode-reader.js';
import { Keys } from '../../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../../support/app.js';
import { startHeatStub, type HeatStub } from '../../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../../support/redis-server.js';
import { metric, type Sampled } from '../../../support/metrics.js';

/**
 * The engine's inputs written in the shapes the upstream services write them (CONTRACT.md §1–2):
 * hostile symbol names, entry positions, the tradable universe, input ages.
 */
const T0 = Date.UTC(2030, 0, 1);

const symbolsOf = async (m: Sampled) =>
  [...new Set((await m.get()).values.map((v) => String(v.labels?.symbol)))].sort();

describe('budget engine inputs against a real Redis', () => {
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
    await t.app.get(BudgetScheduler).settled();
    return { t, clock, engine: t.app.get(BudgetEngine), metrics: t.app.get(Metrics) };
  }
  const nowSec = (clock: ManualClock) => Math.floor(clock.nowMs() / 1000);
  /** As the portfolio state publisher writes it. */
  const putState = (equity: number, timestamp: number) =>
    r.hset(Keys.portfolioState, {
      equity_usd: String(equity),
      drawdown: '0.01',
      timestamp: String(timestamp),
    });

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0);
    r = redis.client();
  });
  beforeEach(async () => {
    await redis.flush();
    heat.setHeat(0);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await heat?.close();
    await redis?.close();
  });

  describe('hostile symbol names (CONTRACT §2: one bad symbol affects only itself)', () => {
    const JUNK = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

    it('junk position keys next to a real symbol: the real budget is written every tick, the junk ignored and counted', async () => {
      const { clock, engine, metrics } = await boot();
      await putState(100000, nowSec(clock));
      await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.02', side: 'LONG', mark_price: '50000' });
      for (const junk of JUNK) {
        await r.hset(Keys.position(junk), { position_amt: '1', side: 'LONG', mark_price: '10' });
        await r.hset(Keys.legacyPosition(junk), { position_amt: '1', side: 'LONG', mark_price: '10' });
      }
      const before = await metric(metrics.staleInput, { input_type: 'symbol' });
      for (let tick = 0; tick < 3; tick++) {
        await r.del(Keys.budget('BTCUSDT'));
        clock.advance(10_000);
        const res = await engine.tick();
        expect(res).toMatchObject({ outcome: 'written', symbols: ['BTCUSDT'], written: 1, writeFailures: 0 });
        expect(Number(await r.hget(Keys.budget('BTCUSDT'), 'position_notional'))).toBe(1000);
        expect(await r.hget(Keys.budget('BTCUSDT'), 'mode')).toBe('shadow');
      }
      for (const junk of JUNK) expect(await r.exists(Keys.budget(junk))).toBe(0);
      // every junk key, every tick
      expect(await metric(metrics.staleInput, { input_type: 'symbol' })).toBe(before + 3 * 2 * JUNK.length);
    });

    it('a mode lookup that answers a non-mode (an Object.prototype member) writes mode "unknown" for that symbol only', async () => {
      const { t, clock, engine } = await boot();
      await putState(100000, nowSec(clock));
      await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '50000' });
      await r.hset(Keys.position('ETHUSDT'), { position_amt: '0.1', side: 'LONG', mark_price: '3000' });
      const reader = t.app.get(ModeReader);
      const real = reader.effectiveMode.bind(reader);
      vi.spyOn(reader, 'effectiveMode').mockImplementation((s: string) =>
        s === 'BTCUSDT' ? (Object.prototype.toString as unknown as Mode) : real(s),
      );
      const res = await engine.tick();
      expect(res).toMatchObject({
        outcome: 'written',
        written: 2,
        writeFailures: 0,
        violations: ['BTCUSDT'],
      });
      expect(await r.hget(Keys.budget('BTCUSDT'), 'mode')).toBe('unknown');
      expect(await r.hget(Keys.budget('ETHUSDT'), 'mode')).toBe('shadow');
      expect(await r.hget(Keys.violation('BTCUSDT'), 'mode')).toBe('unknown');
    });
  });

  it('entry positions (quantity, side, entry_price; no position_amt, no mark_price) are budgeted, signed by side', async () => {
    const { clock, engine } = await boot();
    await putState(100000, nowSec(clock));
    // as the apply layer writes a position at entry
    await r.hset(Keys.position('ETHUSDT'), {
      symbol: 'ETHUSDT',
      side: 'LONG',
      quantity: '2',
      entry_price: '3100',
      leverage: '3',
      opened_at: String(nowSec(clock) - 60),
    });
    await r.hset(Keys.position('SOLUSDT'), {
      symbol: 'SOLUSDT',
      side: 'SHORT',
      qty: '40',
      entry_price: '150',
    });
    const res = await engine.tick();
    expect(res).toMatchObject({ outcome: 'written', symbols: ['ETHUSDT', 'SOLUSDT'], written: 2 });
    expect(Number(await r.hget(Keys.budget('ETHUSDT'), 'position_notional'))).toBe(6200);
    expect(Number(await r.hget(Keys.budget('SOLUSDT'), 'position_notional'))).toBe(6000);
    expect(res.violations).toEqual(['ETHUSDT', 'SOLUSDT']); // both far above ~1,868
  });

  it('heat above 1 is weighted as it is; only the final stress is clamped (CONTRACT §1–2)', async () => {
    const { clock, engine } = await boot();
    await putState(100000, nowSec(clock));
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.001', side: 'LONG', mark_price: '50000' });
    heat.setHeat(1.5); // Σ|notional|·σ / equity of a hot portfolio
    await engine.tick();
    const h = await r.hgetall(Keys.budget('BTCUSDT'));
    // stress = 0.4·1.5 + 0.4·0 + 0.2·0.33 = 0.666 → budget = 100000·0.02·0.334 = 668
    expect(Number(h.portfolio_heat)).toBe(1.5);
    expect(Number(h.stress_factor)).toBeCloseTo(0.666, 6);
    expect(Number(h.budget_usd)).toBe(668);

    heat.setHeat(4); // the final stress is clamped: budget at its floor
    await engine.tick();
    expect(Number(await r.hget(Keys.budget('BTCUSDT'), 'stress_factor'))).toBe(1);
    expect(Number(await r.hget(Keys.budget('BTCUSDT'), 'budget_usd'))).toBe(500);
  });

  describe('input ages (INPUT_MAX_AGE_SEC, CONTRACT §1)', () => {
    it('a cluster stress with an old updated_ts is stale: counted and skipped for the next source', async () => {
      const { clock, engine, metrics } = await boot({ INPUT_MAX_AGE_SEC: '300' });
      const now = nowSec(clock);
      await putState(100000, now);
      await r.hset(Keys.position('SOLUSDT'), { position_amt: '1', side: 'LONG', mark_price: '100' });
      await r.hset(Keys.position('ADAUSDT'), { position_amt: '1', side: 'LONG', mark_price: '100' });
      // as the cluster service writes them (no TTL)
      await r.hset(Keys.clusters, { alts: JSON.stringify(['SOLUSDT', 'ADAUSDT']) });
      await r.hset(Keys.clusterState('alts'), {
        stress: '0.8',
        updated_ts: String(now - 301),
        n_members: '2',
      });
      await r.hset(Keys.portfolioClusterState, { cluster_stress: '0.3', updated_ts: String(now - 20) });
      const before = await metric(metrics.staleInput, { input_type: 'cluster' });
      await engine.tick();
      expect(Number(await r.hget(Keys.budget('SOLUSDT'), 'cluster_stress'))).toBe(0.3);
      expect(await metric(metrics.staleInput, { input_type: 'cluster' })).toBe(before + 2); // per symbol

      // the portfolio-wide value a day old too: the legacy key answers
      await r.hset(Keys.portfolioClusterState, { updated_ts: String(now - 86400) });
      await r.hset(Keys.legacyClusterStress, { stress: '0.1' });
      await engine.tick();
      expect(Number(await r.hget(Keys.budget('SOLUSDT'), 'cluster_stress'))).toBe(0.1);

      // fresh again: the cluster's own stress wins
      await r.hset(Keys.clusterState('alts'), { updated_ts: String(now - 5) });
      await engine.tick();
      expect(Number(await r.hget(Keys.budget('SOLUSDT'), 'cluster_stress'))).toBe(0.8);
    });

    it('an old ts_timestamp makes the live market state stale (counted as vol); the legacy key only backs it up', async () => {
      const { clock, engine, metrics } = await boot({ INPUT_MAX_AGE_SEC: '300' });
      const now = nowSec(clock);
      await putState(100000, now);
      for (const s of ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'])
        await r.hset(Keys.position(s), { position_amt: '1', side: 'LONG', mark_price: '100' });
      // BTC: live and fresh (0.025 → 0.67); a leftover legacy regime must not override it
      await r.hset(Keys.marketState('BTCUSDT'), {
        sigma: '0.025',
        mu: '0.0001',
        ts_timestamp: String(now - 30),
      });
      await r.hset(Keys.legacyMarketState('BTCUSDT'), { vol_regime: 'EXTREME', sigma: '0.05' });
      // ETH: live but 10 minutes old → the legacy key answers (LOW → 0)
      await r.hset(Keys.marketState('ETHUSDT'), { sigma: '0.04', ts_timestamp: String(now - 600) });
      await r.hset(Keys.legacyMarketState('ETHUSDT'), { vol_regime: 'LOW_VOL' });
      // XRP: live but stale, no legacy → normal (0.33)
      await r.hset(Keys.marketState('XRPUSDT'), { sigma: '0.04', ts_timestamp: String(now - 600) });
      const before = await metric(metrics.staleInput, { input_type: 'vol' });
      await engine.tick();
      const vol = async (s: string) => Number(await r.hget(Keys.budget(s), 'vol_regime'));
      expect(await vol('BTCUSDT')).toBe(0.67);
      expect(await vol('ETHUSDT')).toBe(0);
      expect(await vol('XRPUSDT')).toBe(0.33);
      expect(await metric(metrics.staleInput, { input_type: 'vol' })).toBe(before + 2);
    });
  });

  it('a symbol gone from the engine loses every per-symbol series, counters included (budget_computed, budget_blocks)', async () => {
    const { clock, engine, metrics } = await boot();
    await putState(100000, nowSec(clock));
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '50000' }); // over budget
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '0.1', side: 'LONG', mark_price: '3000' });
    await engine.tick();
    const perSymbol = [
      metrics.budgetValue,
      metrics.stressFactor,
      metrics.utilization,
      metrics.budgetComputed,
      metrics.budgetBlocks,
    ];
    for (const m of perSymbol) expect(await symbolsOf(m)).toContain('BTCUSDT');

    await r.del(Keys.position('BTCUSDT'));
    await engine.tick();
    for (const m of perSymbol) expect(await symbolsOf(m)).not.toContain('BTCUSDT');
    expect(await symbolsOf(metrics.budgetComputed)).toEqual(['ETHUSDT']);
    expect(await metric(metrics.budgetComputed, { symbol: 'ETHUSDT' })).toBe(2);
  });

  it('a tick writes its violations in ascending order of over_budget: the worst are the newest entries', async () => {
    const { clock, engine } = await boot();
    await putState(100000, nowSec(clock)); // budget 1868 for every symbol (heat 0, vol 0.33)
    const notional: Record<string, number> = {
      AAAUSDT: 90000,
      BBBUSDT: 5000,
      CCCUSDT: 40000,
      DDDUSDT: 2500,
      EEEUSDT: 1000, // within budget
      FFFUSDT: 120000,
    };
    for (const [s, n] of Object.entries(notional))
      await r.hset(Keys.position(s), { position_amt: '1', side: 'LONG', mark_price: String(n) });
    await engine.tick();
    const entries = await r.xrange(Keys.violationStream, '-', '+');
    const order = entries.map(
      ([, f]) => JSON.parse(f[f.indexOf('json') + 1]) as { symbol: string; over_budget: number },
    );
    expect(order.map((e) => e.symbol)).toEqual(['DDDUSDT', 'BBBUSDT', 'CCCUSDT', 'AAAUSDT', 'FFFUSDT']);
    const over = order.map((e) => e.over_budget);
    expect(over).toEqual([...over].sort((a, b) => a - b));
  });

  it('p28_stale_input_total also counts portfolio_state (the original alerts name it) when the state is stale or missing', async () => {
    const { clock, engine, metrics } = await boot();
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '100' });
    const count = () => metric(metrics.staleInput, { input_type: 'portfolio_state' });
    const before = await count();
    await putState(100000, nowSec(clock));
    expect((await engine.tick()).portfolio).toBe('fresh');
    expect(await count()).toBe(before);
    clock.advance(60_000); // older than STALE_SEC: last known good
    expect((await engine.tick()).portfolio).toBe('lkg');
    expect(await count()).toBe(before + 1);
    clock.advance(16 * 60_000);
    expect((await engine.tick()).portfolio).toBe('too_old');
    expect(await count()).toBe(before + 2);
    await r.del(Keys.portfolioState);
    const fresh = await boot();
    expect((await fresh.engine.tick()).portfolio).toBe('missing');
    expect(await metric(fresh.metrics.staleInput, { input_type: 'portfolio_state' })).toBe(1);
  });

  it('keys of the wrong type written by another service affect only their own input; the real budget is written', async () => {
    const { clock, engine, metrics } = await boot({ BUDGET_UNIVERSE: 'XRPUSDT' });
    const now = nowSec(clock);
    await putState(100000, now);
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '50000' });
    await r.set(Keys.position('ETHUSDT'), '{"position_amt": 1}'); // a JSON string, not a hash
    await r.rpush(Keys.marketState('SOLUSDT'), '0.02'); // a list
    await r.set(Keys.marketState('BTCUSDT'), '0.05');
    await r.set(Keys.legacyMarketState('BTCUSDT'), 'HIGH');
    await r.set(Keys.clusters, '["BTCUSDT"]');
    await r.sadd(Keys.portfolioClusterState, '0.4');
    await r.set(Keys.legacyClusterStress, '0.9');
    await r.set(Keys.budget('XRPUSDT'), 'taken'); // the one write that must fail, alone
    const failsBefore = await metric(metrics.redisWriteFail);
    const res = await engine.tick();
    // SOL's market state is a list: not a live market state, so SOL is not in the universe
    expect(res).toMatchObject({ outcome: 'written', symbols: ['BTCUSDT', 'XRPUSDT'], written: 1 });
    expect(res.writeFailures).toBe(1);
    expect(await metric(metrics.redisWriteFail)).toBe(failsBefore + 1);
    const btc = await r.hgetall(Keys.budget('BTCUSDT'));
    expect(Number(btc.position_notional)).toBe(500);
    expect(Number(btc.vol_regime)).toBe(0.33);
    expect(Number(btc.cluster_stress)).toBe(0);
    expect(await r.exists(Keys.budget('SOLUSDT'))).toBe(0);
    expect(res.stale.position?.count).toBe(1); // ETH
    expect(res.stale.vol?.count).toBe(3); // BTC and SOL unreadable, XRP has none
  });
});
