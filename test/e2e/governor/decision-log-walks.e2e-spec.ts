import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION_FIELDS } from '../../../src/governor-gate/decision-entry.js';
import { DecisionLogReader } from '../../../src/governor-gate/decision-log.reader.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/**
 * A replay or a lookup walks the decision log: up to DECISION_LOG_MAXLEN entries of work on the
 * event loop the gate answers on. A viewer token must not be able to pile them up.
 */
describe('walks of the decision log are bounded per replica', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const viewer = newToken();
  const auth = { authorization: `Bearer ${viewer}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp({
      REDIS_URL: redis.url,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      OPS_API_TOKENS: tokenEntry('eve', 'viewer', viewer),
    });
    // enough entries that one walk outlasts the time it takes to send the others
    const line = JSON.stringify(
      DECISION_FIELDS.map((f) =>
        f === 'symbol' ? 'BTCUSDT' : f === 'decision' ? 'ALLOW' : f === 'reason' ? 'within_budget' : '1',
      ),
    );
    for (let i = 0; i < 60_000; i += 5000) {
      const p = r.pipeline();
      for (let j = 0; j < 5000; j++) p.xadd(Keys.decisions, '*', 'd', line);
      await p.exec();
    }
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('with two walks running, further replays and lookups get 429 and nothing else changes', async () => {
    const calls = [
      request(t.http)
        .post('/ops/policy/replay')
        .set(auth)
        .send({ policy: { base_risk_pct: 0.01 } }),
      request(t.http)
        .post('/ops/policy/replay')
        .set(auth)
        .send({ policy: { base_risk_pct: 0.01 } }),
      request(t.http).get('/governor/decisions?plan_id=not-there').set(auth),
      request(t.http)
        .post('/ops/policy/replay')
        .set(auth)
        .send({ policy: { base_risk_pct: 0.01 } }),
    ].map((c) => c.then((res) => res));
    const answers = await Promise.all(calls);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    const busy = answers.find((a) => a.status === 429);
    expect(busy?.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(String(busy?.body.message)).toMatch(/decision log/);
    expect(busy?.headers['retry-after']).toBe('1');
    // once they are done, the next one is served
    await request(t.http).get('/governor/decisions?plan_id=not-there').set(auth).expect(200);
  });

  it('a walk hands its caller at most 200 entries between two turns of the event loop', async () => {
    // the gate answers on the same loop: a replay working through a whole page at once held it
    // past GATE_TIMEOUT_MS, and decisions failed open with `timeout`
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    let last = -1;
    let total = 0;
    try {
      for await (const rows of t.app.get(DecisionLogReader).pages('-', '+')) {
        expect(rows.length).toBeLessThanOrEqual(200);
        expect(turns).toBeGreaterThan(last);
        last = turns;
        total += rows.length;
      }
    } finally {
      spinning = false;
    }
    expect(total).toBe(60_000);
  });
});
