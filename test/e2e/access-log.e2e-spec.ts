import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/** Issue 15 item 5: refused requests and operator writes leave a trace, bounded in volume. */
describe('access and audit log lines', () => {
  let redis: TestRedis;
  let t: TestApp;
  const op = newToken();
  const viewer = newToken();
  const svc = newToken();
  const secretQuery = `?token=${'S'.repeat(5000)}`;

  const lines = (msg: string) => t.logs.filter((l) => l.msg === msg);

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      GATE_AUTH: 'required',
      OPS_API_TOKENS: [
        tokenEntry('alice', 'operator', op),
        tokenEntry('val', 'viewer', viewer),
        tokenEntry('governor', 'service', svc),
      ].join(','),
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('one line per refused request with route, status, reason and token name; no query string', async () => {
    const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });
    await request(t.http).get(`/ops/mode${secretQuery}`).expect(401);
    await request(t.http).put(`/ops/mode${secretQuery}`).set(bearer(viewer)).send({}).expect(403);
    await request(t.http)
      .put('/ops/mode')
      .set(bearer(op))
      .send({ mode: 'constructor', reason: 'bad mode' })
      .expect(400);
    await request(t.http)
      .put('/ops/mode')
      .set(bearer(op))
      .set('content-type', 'application/x-www-form-urlencoded')
      .send('mode=enforce')
      .expect(415);
    await request(t.http)
      .post('/governor/evaluate')
      .set(bearer(op))
      .set('content-type', 'application/json')
      .send(JSON.stringify({ plan_id: 'p', symbol: 'BTCUSDT', pad: 'x'.repeat(1_000_000) }))
      .expect(413);
    await request(t.http).post('/governor/evaluate').send({ plan_id: 'p', symbol: 'BTCUSDT' }).expect(401);

    const refused = lines('request refused');
    const by = (status: number, route: string) =>
      refused.find((l) => l.status === status && l.route === route);
    expect(by(401, '/ops/mode')).toMatchObject({
      method: 'GET',
      reason: expect.stringContaining('missing'),
      request_id: expect.any(String),
    });
    expect(by(403, '/ops/mode')).toMatchObject({ method: 'PUT', token_name: 'val' });
    expect(by(400, '/ops/mode')).toMatchObject({
      token_name: 'alice',
      reason: expect.stringContaining('mode'),
    });
    expect(by(415, '/ops/mode')).toBeDefined();
    expect(by(413, '/governor/evaluate')).toMatchObject({ token_name: 'alice' });
    expect(by(401, '/governor/evaluate')).toBeDefined();
    expect(t.rawLogs()).not.toContain('SSSSSSSSSS');
    for (const l of refused) {
      expect(String(l.reason).length).toBeLessThanOrEqual(300);
      expect(l).not.toHaveProperty('authorization');
    }
  });

  it('a flood of refused requests writes one line per status and route, with a count', async () => {
    const before = lines('request refused').filter((l) => l.route === '/budgets' && l.status === 401).length;
    for (let i = 0; i < 300; i++) {
      await request(t.http).get(`/budgets?i=${i}`).set('authorization', `Bearer ${newToken()}`).expect(401);
    }
    const after = lines('request refused').filter((l) => l.route === '/budgets' && l.status === 401);
    expect(after.length - before).toBe(1);
    const text = (await request(t.http).get('/metrics').expect(200)).text;
    const line = text
      .split('\n')
      .find((l) => l.startsWith('p28_log_suppressed_total{kind="request_refused"} '));
    expect(Number(line?.split(' ')[1])).toBeGreaterThanOrEqual(299);
  });

  it('each successful operator write logs actor, route and operation id', async () => {
    const res = await request(t.http)
      .put('/ops/mode')
      .set('authorization', `Bearer ${op}`)
      .send({ mode: 'reduce_only', reason: 'kill switch drill' })
      .expect(200);
    const rb = await request(t.http)
      .post('/ops/rollback')
      .set('authorization', `Bearer ${op}`)
      .send({ reason: 'drill over' })
      .expect(200);
    const writes = lines('operator write');
    expect(writes).toContainEqual(
      expect.objectContaining({
        actor: 'alice',
        method: 'PUT',
        route: '/ops/mode',
        status: 200,
        operation_id: res.body.operation_id,
      }),
    );
    expect(writes).toContainEqual(
      expect.objectContaining({ actor: 'alice', route: '/ops/rollback', operation_id: rb.body.operation_id }),
    );
    // reads are not writes
    await request(t.http).get('/ops/mode').set('authorization', `Bearer ${op}`).expect(200);
    expect(lines('operator write').length).toBe(writes.length);
  });
});
