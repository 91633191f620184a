import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BudgetEngine } from '../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../src/common/clock.js';
import type { Mode } from '../../src/config/index.js';
import { Metrics } from '../../src/health/metrics.js';
import { ModeReader } from '../../src/ops/mode-reader.js';
import { Keys } from '../../src/redis/keys.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startHeatStub, type HeatStub } from '../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/**
 * The engine's inputs written in the shapes the upstream services write them (CONTRACT.md §1–2):
 * hostile symbol names, entry positions, the tradable universe, input ages.
 */
const T0 = Date.UTC(2030, 0, 1);

type Sampled = {
  get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }>;
};
async function metric(m: Sampled, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
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
});
