import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { sha256Hex } from '../../../src/platform/auth/token-registry.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { freePort, startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { metric } from '../../support/metrics.js';

/**
 * The tradable universe (CONTRACT.md §2): active positions, every symbol with a live market-state
 * key, and BUDGET_UNIVERSE. A flat symbol gets a budget with position_notional 0, so a first entry
 * on it is judged instead of failing open with `no_budget`.
 */
const OPERATOR = randomBytes(16).toString('hex');
const auth = { Authorization: `Bearer ${OPERATOR}` };

describe('the tradable universe against a real Redis', () => {
  let redis: TestRedis;
  let r: Redis;
  let heatUrl: string;
  const apps: TestApp[] = [];

  async function boot(env: Record<string, string> = {}) {
    const clock = new ManualClock(Date.now());
    const t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        HEAT_GATE_METRICS_URL: heatUrl,
        P28_TEST_MODE: '1',
        OPS_API_TOKENS: `oncall:operator:${sha256Hex(OPERATOR)}`,
        ...env,
      },
      { clock },
    );
    apps.push(t);
    await t.app.get(BudgetScheduler).settled();
    return { t, clock, engine: t.app.get(BudgetEngine), metrics: t.app.get(Metrics) };
  }
  const nowSec = (clock: ManualClock) => Math.floor(clock.nowMs() / 1000);

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    // nothing listens there: heat reads as 0 at once
    heatUrl = `http://127.0.0.1:${await freePort()}/metrics`;
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('budgets flat symbols with a market-state key or in BUDGET_UNIVERSE (notional 0); junk key names are counted, not budgeted', async () => {
    const { clock, engine, metrics } = await boot({ BUDGET_UNIVERSE: 'ADAUSDT,XRPUSDT' });
    const now = nowSec(clock);
    await r.hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0', timestamp: String(now) });
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '60000' });
    // as the market-state publisher writes them
    await r.hset(Keys.marketState('ETHUSDT'), { sigma: '0.012', mu: '0.0002', ts_timestamp: String(now) });
    await r.hset(Keys.marketState('SOLUSDT'), { sigma: '0.035', ts_timestamp: String(now) });
    await r.hset(Keys.position('SOLUSDT'), { position_amt: '3', side: 'FLAT', mark_price: '150' });
    await r.hset(Keys.marketState('constructor'), { sigma: '0.01', ts_timestamp: String(now) });
    await r.hset(Keys.marketState('toString'), { sigma: '0.01', ts_timestamp: String(now) });
    const before = await metric(metrics.staleInput, { input_type: 'symbol' });

    const res = await engine.tick();
    expect(res).toMatchObject({
      outcome: 'written',
      symbols: ['ADAUSDT', 'BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'],
      written: 5,
    });
    for (const s of ['ADAUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT']) {
      const h = await r.hgetall(Keys.budget(s));
      expect(Number(h.position_notional)).toBe(0);
      expect(Number(h.utilization)).toBe(0);
      expect(Number(h.budget_usd)).toBeGreaterThan(0);
    }
    expect(Number(await r.hget(Keys.budget('SOLUSDT'), 'vol_regime'))).toBe(1); // its own sigma
    expect(Number(await r.hget(Keys.budget('BTCUSDT'), 'position_notional'))).toBe(600);
    expect(await r.exists(Keys.budget('constructor'), Keys.budget('toString'))).toBe(0);
    expect(await metric(metrics.staleInput, { input_type: 'symbol' })).toBe(before + 2);
  });

  it('enforce: a first entry 50× the max budget on a flat symbol with a market-state key is BLOCKED p28_projected_over_budget', async () => {
    const { t, engine } = await boot();
    await request(t.http)
      .post('/test/inject_portfolio_state')
      .set(auth)
      .send({ equity_usd: 100000 })
      .expect(200);
    await r.hset(Keys.marketState('DOGEUSDT'), {
      sigma: '0.015',
      ts_timestamp: String(Math.floor(Date.now() / 1000)),
    });
    await engine.tick();
    const budget = Number(await r.hget(Keys.budget('DOGEUSDT'), 'budget_usd'));
    expect(budget).toBeGreaterThan(0);
    await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'universe e2e: judge first entries' })
      .expect(200);

    const res = await request(t.http)
      .post('/governor/evaluate')
      .set(auth)
      .send({ plan_id: 'first-entry-1', symbol: 'DOGEUSDT', side: 'BUY', projected_notional: 50 * 10000 })
      .expect(200);
    expect(res.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      mode: 'enforce',
      enforced: true,
      budget_usd: budget,
    });
  });
});
