import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { sha256Hex } from '../../../src/platform/auth/token-registry.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { freePort, startTestRedis, type TestRedis } from '../../support/redis-server.js';

const OPERATOR = randomBytes(16).toString('hex');

/**
 * The whole enforce path through public ways in only: portfolio state injected over HTTP, a
 * position as the position service writes it, one budget tick, the operator switching to enforce
 * over the ops API, then the gate blocking. The one shortcut is calling the engine's tick directly
 * instead of waiting for the scheduler's interval.
 */
describe('enforce path end to end: inject state → tick → PUT /ops/mode enforce → BLOCK', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const auth = { Authorization: `Bearer ${OPERATOR}` };
  const evaluate = (body: Record<string, unknown>) =>
    request(t.http).post('/governor/evaluate').set(auth).send(body).expect(200);

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp({
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      P28_TEST_MODE: '1',
      OPS_API_TOKENS: `oncall:operator:${sha256Hex(OPERATOR)}`,
      // nothing listens there: heat reads as 0 at once instead of waiting for a timeout
      HEAT_GATE_METRICS_URL: `http://127.0.0.1:${await freePort()}/metrics`,
      // the test ticks by hand; the scheduler's own tick would only repeat the same result
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('blocks a risk-increasing plan for a symbol over budget once an operator enforces', async () => {
    await request(t.http)
      .post('/test/inject_portfolio_state')
      .set(auth)
      .send({ equity_usd: 100000 })
      .expect(200);
    // 1 BTC long at 50,000: far above a budget of about 2% of 100,000 equity
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '50000' });

    await t.app.get(BudgetEngine).tick();
    const budget = await r.hgetall(Keys.budget('BTCUSDT'));
    expect(Number(budget.budget_usd)).toBeGreaterThan(0);
    expect(Number(budget.budget_usd)).toBeLessThan(50000);
    expect(await r.exists(Keys.violation('BTCUSDT'))).toBe(1);

    // shadow (the default): allowed, reported as a would-block
    const shadow = await evaluate({ plan_id: 'e2e-1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.1 });
    expect(shadow.body).toMatchObject({ decision: 'ALLOW', reason: 'shadow_mode', mode: 'shadow' });

    await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'gate e2e: enforce the budget' })
      .expect(200);

    const blocked = await evaluate({ plan_id: 'e2e-2', symbol: 'BTCUSDT', side: 'BUY', qty: 0.1 });
    expect(blocked.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_budget_violation',
      mode: 'enforce',
      enforced: true,
      budget_usd: Number(budget.budget_usd),
      position_notional: 50000,
    });
    // reducing the position still passes
    const reducing = await evaluate({ plan_id: 'e2e-3', symbol: 'BTCUSDT', side: 'SELL', qty: 0.5 });
    expect(reducing.body).toMatchObject({ decision: 'ALLOW', reason: 'reduces_risk', mode: 'enforce' });

    // the one-call emergency return to shadow lifts the block
    await request(t.http)
      .post('/ops/rollback')
      .set(auth)
      .send({ reason: 'gate e2e: back to shadow' })
      .expect(200);
    const after = await evaluate({ plan_id: 'e2e-4', symbol: 'BTCUSDT', side: 'BUY', qty: 0.1 });
    expect(after.body).toMatchObject({ decision: 'ALLOW', reason: 'shadow_mode', mode: 'shadow' });
  });
});
