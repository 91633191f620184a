import { Agent, request as httpRequest } from 'node:http';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { PlanConsumer } from '../../../src/governor-gate/plan-consumer.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const service = newToken();
const operator = newToken();
const viewer = newToken();
const TOKENS = [
  tokenEntry('governor', 'service', service),
  tokenEntry('op', 'operator', operator),
  tokenEntry('view', 'viewer', viewer),
].join(',');
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** Gate auth (CONTRACT §3/§5): who may ask, what an anonymous caller gets, and what it may not write. */
describe('Gate 0 callers: service role, GATE_AUTH, the shadow report', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  let strict: TestApp;
  const clock = new ManualClock();

  /** Shadow mode, BTCUSDT over budget by a fresh violation: every plan is a would-block. */
  async function seed() {
    const now = clock.nowSec();
    await r.hset(Keys.mode, { mode: 'shadow', version: 1, changed_at: now, changed_by: 'test' });
    await r.hset(Keys.budget('BTCUSDT'), { budget_usd: 1500, timestamp: now - 1, position_notional: 2000 });
    await r.hset(Keys.violation('BTCUSDT'), { timestamp: now - 1, symbol: 'BTCUSDT' });
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '2000' });
  }
  const plan = (id: string, extra: Record<string, unknown> = {}) => ({
    plan_id: id,
    symbol: 'BTCUSDT',
    side: 'BUY',
    qty: 0.5,
    ...extra,
  });
  const evaluate = (app: TestApp, body: object, headers: Record<string, string> = {}) =>
    request(app.http).post('/governor/evaluate').set(headers).send(body);
  /** Lets the after-the-answer shadow writes land. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    // a generous read bound: on a loaded test machine a 50 ms timeout would fail some plans open
    const env = {
      REDIS_URL: redis.url,
      OPS_API_TOKENS: TOKENS,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      GATE_TIMEOUT_MS: '1000',
    };
    t = await createTestApp(env, { clock });
    strict = await createTestApp({ ...env, GATE_AUTH: 'required' }, { clock });
  });
  afterAll(async () => {
    await t?.close();
    await strict?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    clock.set(Date.now());
    await redis.flush();
    await seed();
  });

  it('optional (default): a caller without a token gets only decision, reason, mode, enforced and writes no record', async () => {
    for (let i = 0; i < 50; i++) {
      const res = await evaluate(t, plan(`anon-${i}`, { projected_notional: 1e300 })).expect(200);
      expect(res.body).toEqual({ decision: 'ALLOW', reason: 'shadow_mode', mode: 'shadow', enforced: false });
    }
    await settle();
    expect(await r.xlen(Keys.shadowWouldBlock)).toBe(0);
    const report = await request(t.http).get('/ops/shadow-report').set(bearer(viewer)).expect(200);
    expect(report.body.totals.count).toBe(0);
  });

  it('a service or operator token gets the full answer and a shadow record', async () => {
    for (const [who, token] of [
      ['service', service],
      ['operator', operator],
    ]) {
      const res = await evaluate(t, plan(`full-${who}`), bearer(token)).expect(200);
      expect(res.body).toEqual({
        decision: 'ALLOW',
        reason: 'shadow_mode',
        mode: 'shadow',
        enforced: false,
        budget_usd: 1500,
        position_notional: 2000,
        fail_open: 'shadow_mode',
      });
    }
    await waitFor(async () => (await r.xlen(Keys.shadowWouldBlock)) === 2, { what: 'two records' });
  });

  it('on one keep-alive connection, each request is judged by its own header', async () => {
    const app = await createTestApp(
      {
        REDIS_URL: redis.url,
        OPS_API_TOKENS: TOKENS,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        GATE_TIMEOUT_MS: '1000',
      },
      { clock, listen: true },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const url = new URL(`${await app.app.getUrl()}/governor/evaluate`.replace('[::1]', '127.0.0.1'));
      const send = (headers: Record<string, string>) =>
        new Promise<{ status: number; body: Record<string, unknown>; reused: boolean }>((resolve, reject) => {
          const req = httpRequest(
            url,
            { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), reused: req.reusedSocket }),
              );
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(plan('keepalive-1')));
        });
      const first = await send(bearer(service));
      expect(first).toMatchObject({ status: 200, body: { decision: 'ALLOW' } });
      expect(first.body).toHaveProperty('budget_usd');
      const answers = [
        await send(bearer(`${service}x`)),
        await send({}),
        await send(bearer(viewer)),
        await send(bearer(service)),
      ];
      expect(answers.map((a) => a.reused)).toEqual([true, true, true, true]);
      expect(answers.map((a) => a.status)).toEqual([401, 200, 403, 200]);
      // no token: the anonymous answer, whatever the connection sent before
      expect(answers[1].body).not.toHaveProperty('budget_usd');
      expect(answers[3].body).toHaveProperty('budget_usd');
    } finally {
      agent.destroy();
      await app.close();
    }
  });

  it('a present but invalid token is 401 in both modes; a viewer token is 403 on the gate', async () => {
    for (const app of [t, strict]) {
      for (const header of [
        `Bearer ${newToken()}`,
        'Bearer',
        'Basic abc',
        `Bearer ${'x'.repeat(600)}`,
        `Bearer ${service} extra`,
      ]) {
        const res = await evaluate(app, plan('bad'), { Authorization: header });
        expect(res.status, header.slice(0, 40)).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      const v = await evaluate(app, plan('viewer'), bearer(viewer));
      expect(v.status).toBe(403);
    }
    await settle();
    expect(await r.xlen(Keys.shadowWouldBlock)).toBe(0);
  });

  it('required: a caller without a token gets 401; a service token is judged', async () => {
    const res = await evaluate(strict, plan('anon')).expect(401);
    expect(res.body.message).toMatch(/token/);
    const ok = await evaluate(strict, plan('svc'), bearer(service)).expect(200);
    expect(ok.body).toMatchObject({ reason: 'shadow_mode', budget_usd: 1500 });
  });

  it('a service token may call only the gate: 403 on every other protected route', async () => {
    const calls = [
      () => request(t.http).get('/ops/mode'),
      () => request(t.http).get('/ops/shadow-report'),
      () => request(t.http).get('/ops/ledger'),
      () => request(t.http).get('/budgets'),
      () => request(t.http).put('/ops/mode').send({ mode: 'enforce', reason: 'service tries' }),
      () => request(t.http).post('/ops/rollback').send({ reason: 'service tries' }),
    ];
    for (const call of calls) {
      const res = await call().set(bearer(service));
      expect(res.status, res.text).toBe(403);
    }
    expect((await r.hgetall(Keys.mode)).mode).toBe('shadow');
    expect(await r.xlen(Keys.ledger)).toBe(0);
  });

  it('the shadow report counts distinct plan ids, shows the age of its oldest record, and bounds max_over_budget', async () => {
    for (let i = 0; i < 10; i++) await evaluate(t, plan('same-plan'), bearer(service)).expect(200);
    clock.advance(30_000);
    await seed();
    // a forged projection: the record holds a bounded value, not 1.7e308
    await evaluate(t, plan('forger', { projected_notional: 1.7e308 }), bearer(service)).expect(200);
    await waitFor(async () => (await r.xlen(Keys.shadowWouldBlock)) === 11, { what: 'eleven records' });
    // and a record another writer put in the stream
    await r.xadd(
      Keys.shadowWouldBlock,
      '*',
      'symbol',
      'BTCUSDT',
      'plan_id',
      'x',
      'notional',
      '1e308',
      'budget',
      '1',
      'time',
      String(clock.nowSec()),
    );
    await r.xadd(
      Keys.shadowWouldBlock,
      '*',
      'symbol',
      '__proto__',
      'plan_id',
      'y',
      'notional',
      '5',
      'budget',
      '1',
      'time',
      String(clock.nowSec()),
    );
    clock.advance(15_000);
    const report = (await request(t.http).get('/ops/shadow-report').set(bearer(viewer)).expect(200)).body;
    expect(report.totals.count).toBe(4);
    expect(report.symbols.BTCUSDT.count).toBe(3);
    expect(report.symbols.__proto__).toMatchObject({ count: 1 });
    expect(report.totals.max_over_budget).toBeLessThanOrEqual(1e12);
    expect(report.symbols.BTCUSDT.max_over_budget).toBeLessThanOrEqual(1e12);
    expect(report.oldest_age_sec).toBe(45);
    expect(({} as Record<string, unknown>).count).toBeUndefined();
  });

  it("the plan consumer's decisions count as authenticated: its would-blocks are recorded", async () => {
    const consumer = t.app.get(PlanConsumer);
    await consumer.processBatch([
      [
        '1-1',
        ['plan_id', 'consumed-1', 'symbol', 'BTCUSDT', 'decision', 'EXECUTE', 'side', 'BUY', 'qty', '0.5'],
      ],
    ]);
    await waitFor(async () => (await r.xlen(Keys.shadowWouldBlock)) === 1, { what: 'the record' });
  });
});
