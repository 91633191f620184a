import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
 * The budget routes as other services and the original proof script call them (CONTRACT.md §5):
 * `GET /budgets/:symbol` with hostile parameters and keys, and the compatibility routes
 * `GET /budget/:symbol` and `POST /budget/check`.
 */
const viewer = randomBytes(24).toString('hex');
const operator = randomBytes(24).toString('hex');
const TOKENS = `ana:viewer:${sha256Hex(viewer)},olga:operator:${sha256Hex(operator)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('budget routes: hostile input and the compatibility surface', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const clock = new ManualClock(Date.UTC(2030, 5, 1, 12));
  const nowSec = () => Math.floor(clock.nowMs() / 1000);

  async function tick() {
    await r.hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0', timestamp: String(nowSec()) });
    // budget 1868 for both (heat 0, no vol data → 0.33)
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '50000' });
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    await t.app.get(BudgetEngine).tick();
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        HEAT_GATE_METRICS_URL: `http://127.0.0.1:${await freePort()}/metrics`,
        OPS_API_TOKENS: TOKENS,
        P28_TEST_MODE: '1',
      },
      { clock },
    );
    await t.app.get(BudgetScheduler).settled();
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  describe('GET /budgets/:symbol and GET /budget/:symbol', () => {
    it.each(['/budgets', '/budget'])(
      '%s/:symbol: a budget key of the wrong type is no budget (404), not a 500',
      async (base) => {
        await r.set(Keys.budget('XRPUSDT'), 'written by someone else');
        const res = await request(t.http).get(`${base}/XRPUSDT`).set(bearer(viewer)).expect(404);
        expect(JSON.stringify(res.body)).not.toMatch(/WRONGTYPE/);
      },
    );

    it.each(['/budgets', '/budget'])(
      '%s/:symbol: a symbol breaking the rule is a 400 naming the field, control characters never echoed',
      async (base) => {
        for (const bad of ['bad%0Asym%1B%5B31m', 'btcusdt', '__proto__', 'A'.repeat(40), 'X%00Y']) {
          const res = await request(t.http).get(`${base}/${bad}`).set(bearer(viewer)).expect(400);
          expect(res.body.fields).toEqual(['symbol']);
          expect(JSON.stringify(res.body)).not.toMatch(/\\u00|\\n|\\r|\\u001b|\\t/i);
          expect(res.body.message.join(' ')).not.toContain(decodeURIComponent(bad));
        }
      },
    );

    it('GET /budget/:symbol answers the budget hash with numbers (viewer), 404 without one', async () => {
      await tick();
      const res = await request(t.http).get('/budget/ETHUSDT').set(bearer(viewer)).expect(200);
      const h = await r.hgetall(Keys.budget('ETHUSDT'));
      expect(res.body).toMatchObject({
        symbol: 'ETHUSDT',
        budget_usd: Number(h.budget_usd),
        position_notional: 3000,
        stress_factor: Number(h.stress_factor),
        mode: 'shadow',
        timestamp: nowSec(),
      });
      await request(t.http).get('/budget/NOPEUSDT').set(bearer(viewer)).expect(404);
      await request(t.http).get('/budget/ETHUSDT').expect(401);
    });
  });

  describe('POST /budget/check', () => {
    it('answers {violation, budget_usd, over_budget, mode, enforce} and counts p28_budget_allow_total within budget', async () => {
      await tick();
      const metrics = t.app.get(Metrics);
      const budget = Number(await r.hget(Keys.budget('BTCUSDT'), 'budget_usd'));
      const allowBefore = await metric(metrics.budgetAllow, { symbol: 'BTCUSDT' });

      const within = await request(t.http)
        .post('/budget/check?symbol=BTCUSDT&position_notional=1000')
        .set(bearer(viewer))
        .expect(200);
      expect(within.body).toEqual({
        violation: false,
        budget_usd: budget,
        over_budget: 0,
        mode: 'shadow',
        enforce: false,
      });
      expect(await metric(metrics.budgetAllow, { symbol: 'BTCUSDT' })).toBe(allowBefore + 1);

      const over = await request(t.http)
        .post('/budget/check?symbol=BTCUSDT&position_notional=2500.5')
        .set(bearer(viewer))
        .expect(200);
      expect(over.body).toEqual({
        violation: true,
        budget_usd: budget,
        over_budget: Math.round((2500.5 - budget) * 100) / 100,
        mode: 'shadow',
        enforce: false,
      });
      expect(await metric(metrics.budgetAllow, { symbol: 'BTCUSDT' })).toBe(allowBefore + 1);
    });

    it('without a budget: {violation:false, reason:"no_budget_data_fail_open"}', async () => {
      const res = await request(t.http)
        .post('/budget/check?symbol=SOLUSDT&position_notional=1000000')
        .set(bearer(viewer))
        .expect(200);
      expect(res.body).toEqual({ violation: false, reason: 'no_budget_data_fail_open' });
    });

    it.each([
      ['symbol=btc%0Ausdt&position_notional=1', 'symbol'],
      ['position_notional=1', 'symbol'],
      ['symbol=BTCUSDT', 'position_notional'],
      ['symbol=BTCUSDT&position_notional=-5', 'position_notional'],
      ['symbol=BTCUSDT&position_notional=1e309', 'position_notional'],
      ['symbol=BTCUSDT&position_notional=0x10', 'position_notional'],
    ])('?%s → 400 naming %s', async (qs, field) => {
      const res = await request(t.http).post(`/budget/check?${qs}`).set(bearer(viewer)).expect(400);
      expect(res.body.fields).toContain(field);
    });

    it('needs a viewer token', async () => {
      await request(t.http).post('/budget/check?symbol=BTCUSDT&position_notional=1').expect(401);
    });
  });

  it('POST /test/inject_portfolio_state answers success: true (the original proof script checks it)', async () => {
    const res = await request(t.http)
      .post('/test/inject_portfolio_state?equity_usd=50000')
      .set(bearer(operator))
      .expect(200);
    expect(res.body).toMatchObject({ ok: true, success: true });
  });
});
