import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { sha256Hex } from '../../../src/platform/auth/token-registry.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const viewer = randomBytes(24).toString('hex');
const operator = randomBytes(24).toString('hex');
const TOKENS = `ana:viewer:${sha256Hex(viewer)},olga:operator:${sha256Hex(operator)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const INJECT = '/test/inject_portfolio_state';

describe('budget HTTP API', () => {
  let redis: TestRedis;
  let heat: HeatStub;
  let r: Redis;
  let t: TestApp;
  let off: TestApp;
  const clock = new ManualClock(Date.UTC(2030, 5, 1, 12));

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0.25);
    r = redis.client();
    const env = {
      REDIS_URL: redis.url,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      HEAT_GATE_METRICS_URL: heat.url,
      OPS_API_TOKENS: TOKENS,
    };
    t = await createTestApp({ ...env, P28_TEST_MODE: '1' }, { clock });
    off = await createTestApp({ ...env, P28_TEST_MODE: '0' }, { clock });
    await Promise.all([t, off].map((a) => a.app.get(BudgetScheduler).settled()));
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterAll(async () => {
    await off?.close();
    await t?.close();
    await heat?.close();
    await redis?.close();
  });

  describe('POST /test/inject_portfolio_state', () => {
    const nowSec = () => Math.floor(clock.nowMs() / 1000);

    it('writes the state from the query string with timestamp = now and TTL 120', async () => {
      const res = await request(t.http)
        .post(`${INJECT}?equity_usd=123456.5&drawdown=0.05`)
        .set(bearer(operator))
        .expect(200);
      expect(res.body).toMatchObject({
        equity_usd: 123456.5,
        drawdown: 0.05,
        timestamp: nowSec(),
        ttl_sec: 120,
      });
      expect(await r.hgetall('quantum:state:portfolio')).toEqual({
        equity_usd: '123456.5',
        drawdown: '0.05',
        timestamp: String(nowSec()),
      });
      const ttl = await r.ttl('quantum:state:portfolio');
      expect(ttl).toBeGreaterThan(110);
      expect(ttl).toBeLessThanOrEqual(120);
    });

    it('writes the state from a JSON body, and the engine then uses it', async () => {
      await request(t.http)
        .post(INJECT)
        .set(bearer(operator))
        .send({ equity_usd: 75000, drawdown: 0.1 })
        .expect(200);
      expect(await r.hget('quantum:state:portfolio', 'equity_usd')).toBe('75000');
      await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '10' });
      const res = await t.app.get(BudgetEngine).tick();
      expect(res.portfolio).toBe('fresh');
      expect(await r.hget('quantum:portfolio:budget:BTCUSDT', 'equity_usd')).toBe('75000');
    });

    it.each([
      ['negative', '?equity_usd=-5'],
      ['zero', '?equity_usd=0'],
      ['not a number', '?equity_usd=abc'],
      ['absent', '?drawdown=0.1'],
    ])('400 naming equity_usd when it is %s, and nothing is written', async (_why, qs) => {
      const res = await request(t.http).post(`${INJECT}${qs}`).set(bearer(operator)).expect(400);
      expect(res.body.fields).toEqual(['equity_usd']);
      expect(res.body.message.join(' ')).toMatch(/equity_usd/);
      expect(await r.exists('quantum:state:portfolio')).toBe(0);
    });

    it('400 for a bad equity in a JSON body', async () => {
      const res = await request(t.http)
        .post(INJECT)
        .set(bearer(operator))
        .send({ equity_usd: 'lots' })
        .expect(400);
      expect(res.body.fields).toEqual(['equity_usd']);
    });

    it('401 without a token, 403 for a viewer', async () => {
      await request(t.http).post(`${INJECT}?equity_usd=1000`).expect(401);
      await request(t.http).post(`${INJECT}?equity_usd=1000`).set(bearer(viewer)).expect(403);
      expect(await r.exists('quantum:state:portfolio')).toBe(0);
    });

    it('without P28_TEST_MODE the route answers 404 exactly like an unknown route, token or not', async () => {
      const unknown = await request(off.http).post('/test/no_such_route').set(bearer(operator)).expect(404);
      for (const headers of [bearer(operator), {}]) {
        const res = await request(off.http).post(`${INJECT}?equity_usd=1000`).set(headers).expect(404);
        expect(res.body).toEqual({
          ...unknown.body,
          message: unknown.body.message.replace('/test/no_such_route', `${INJECT}?equity_usd=1000`),
        });
      }
      expect(await r.exists('quantum:state:portfolio')).toBe(0);
    });
  });

  describe('budgets', () => {
    async function tickWithBudgets() {
      await r.hset('quantum:state:portfolio', {
        equity_usd: '100000',
        timestamp: String(Math.floor(clock.nowMs() / 1000)),
      });
      await r.hset('quantum:state:positions:BTCUSDT', {
        position_amt: '0.01',
        side: 'LONG',
        mark_price: '50000',
      });
      await r.hset('quantum:position:snapshot:ETHUSDT', {
        position_amt: '1',
        side: 'LONG',
        mark_price: '3000',
      });
      await t.app.get(BudgetEngine).tick();
    }

    it('GET /budgets lists every budget with numbers as numbers', async () => {
      await tickWithBudgets();
      const res = await request(t.http).get('/budgets').set(bearer(viewer)).expect(200);
      expect(res.body.count).toBe(2);
      expect(res.body.budgets.map((b: { symbol: string }) => b.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
      const btc = await r.hgetall('quantum:portfolio:budget:BTCUSDT');
      expect(res.body.budgets[0]).toMatchObject({
        symbol: 'BTCUSDT',
        budget_usd: Number(btc.budget_usd),
        position_notional: 500,
        mode: 'shadow',
      });
    });

    it('GET /budgets/:symbol answers the hash, 404 for a symbol without budget, 401 without token', async () => {
      await tickWithBudgets();
      const res = await request(t.http).get('/budgets/ETHUSDT').set(bearer(viewer)).expect(200);
      expect(res.body).toMatchObject({ symbol: 'ETHUSDT', position_notional: 3000 });
      expect(typeof res.body.budget_usd).toBe('number');
      await request(t.http).get('/budgets/NOPEUSDT').set(bearer(viewer)).expect(404);
      await request(t.http).get('/budgets/ETHUSDT').expect(401);
      await request(t.http).get('/budgets').expect(401);
    });

    it('POST /budgets/simulate computes the worked checks and writes nothing', async () => {
      const one = await request(t.http)
        .post('/budgets/simulate')
        .set(bearer(viewer))
        .send({ equity_usd: 100000, heat: 0.25, cluster_stress: 0, vol_regime: 0.33 })
        .expect(200);
      expect(one.body.stress_factor).toBeCloseTo(0.166, 10);
      expect(one.body.budget_usd).toBe(1668);
      const two = await request(t.http)
        .post('/budgets/simulate')
        .set(bearer(viewer))
        .send({ equity_usd: 100000, heat: 0.7, vol_regime: 0.33, position_notional: 1962 })
        .expect(200);
      expect(two.body).toMatchObject({
        budget_usd: 1308,
        violation: true,
        over_budget: 654,
        utilization: 1.5,
      });
      // inputs left out default as the engine's missing inputs do: vol normal (0.33), the rest 0
      const defaults = await request(t.http)
        .post('/budgets/simulate')
        .set(bearer(viewer))
        .send({ equity_usd: 100000, heat: 0.25 })
        .expect(200);
      expect(defaults.body.budget_usd).toBe(1668);
      // heat is not clamped (docs/contract.md §1): 1.5 weighs 0.6 and the final stress is clamped
      const hot = await request(t.http)
        .post('/budgets/simulate')
        .set(bearer(viewer))
        .send({ equity_usd: 100000, heat: 1.5, cluster_stress: 0, vol_regime: 0.33 })
        .expect(200);
      expect(hot.body.stress_factor).toBeCloseTo(0.666, 6);
      // the lease and the shared mode (re-seeded by its refresh after the flush) are not simulate's
      const keys = await r.keys('*');
      expect(keys.filter((k) => k !== 'quantum:p28:leader' && !k.startsWith('quantum:{p28:ops}:'))).toEqual(
        [],
      );
    });

    it.each([
      [{ heat: 0.1 }, 'equity_usd'],
      [{ equity_usd: 'abc' }, 'equity_usd'],
      [{ equity_usd: -1 }, 'equity_usd'],
      [{ equity_usd: 1000, heat: -0.1 }, 'heat'],
      [{ equity_usd: 1000, heat: 1001 }, 'heat'],
      [{ equity_usd: 1000, vol_regime: 'HIGH' }, 'vol_regime'],
      [{ equity_usd: 1000, position_notional: -3 }, 'position_notional'],
      [{ equity_usd: 1000, surprise: 1 }, 'surprise'],
    ])('POST /budgets/simulate %j → 400 naming %s', async (body, field) => {
      const res = await request(t.http).post('/budgets/simulate').set(bearer(viewer)).send(body).expect(400);
      expect(res.body.fields).toContain(field);
      expect(res.body.message.some((m: string) => m.startsWith(`${field}:`))).toBe(true);
    });
  });
});
