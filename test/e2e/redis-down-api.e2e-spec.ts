import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/** With Redis down, endpoints that need it answer 503 naming Redis (never a bare 500), and nothing hangs. */
describe('API while Redis is down', () => {
  let redis: TestRedis;
  let t: TestApp;
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      P28_TEST_MODE: '1',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      OPS_API_TOKENS: tokenEntry('op', 'operator', op),
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('answers 503 on every Redis-backed endpoint, and the gate still answers ALLOW', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    await redis.stop();
    const calls: Array<[string, () => request.Test]> = [
      ['GET /budgets', () => request(t.http).get('/budgets').set(auth)],
      ['GET /budgets/BTCUSDT', () => request(t.http).get('/budgets/BTCUSDT').set(auth)],
      ['GET /ops/shadow-report', () => request(t.http).get('/ops/shadow-report').set(auth)],
      ['GET /ops/ledger', () => request(t.http).get('/ops/ledger').set(auth)],
      ['GET /ops/ledger/verify', () => request(t.http).get('/ops/ledger/verify').set(auth)],
      [
        'PUT /ops/mode',
        () => request(t.http).put('/ops/mode').set(auth).send({ mode: 'enforce', reason: 'while down' }),
      ],
      [
        'POST /ops/rollback',
        () => request(t.http).post('/ops/rollback').set(auth).send({ reason: 'while down' }),
      ],
      [
        'POST /test/inject_portfolio_state',
        () => request(t.http).post('/test/inject_portfolio_state').set(auth).send({ equity_usd: 1000 }),
      ],
    ];
    for (const [name, call] of calls) {
      const started = performance.now();
      const res = await call();
      expect(res.status, `${name}: ${res.text}`).toBe(503);
      expect(JSON.stringify(res.body), name).toMatch(/Redis/i);
      // a client told when to come back does not retry in a tight loop
      expect(res.headers['retry-after'], name).toBe('2');
      expect(performance.now() - started, name).toBeLessThan(5000);
    }
    const gate = await request(t.http)
      .post('/governor/evaluate')
      .set(auth)
      .send({ plan_id: 'p1', symbol: 'BTCUSDT' })
      .expect(200);
    expect(gate.body).toMatchObject({ decision: 'ALLOW', fail_open: 'redis_unavailable' });
    await redis.start();
  }, 60_000);
});
