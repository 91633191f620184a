import request from 'supertest';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { PlanConsumer } from '../../../src/governor-gate/plan-consumer.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const DECISIONS = 'quantum:p28:decisions';

/** docs/contract.md §7: the fields of a decision log entry. */
const DECISION_FIELDS = [
  'plan_id',
  'symbol',
  'side',
  'qty',
  'projected_notional',
  'reduce_only',
  'decision',
  'reason',
  'mode',
  'enforced',
  'budget_usd',
  'budget_age_sec',
  'violation_age_sec',
  'position_amt',
  'price',
  'equity_usd',
  'portfolio_heat',
  'cluster_stress',
  'vol_regime',
  'policy_version',
  'timestamp_ms',
];

describe('Gate 0 decision log (quantum:p28:decisions, docs/contract.md §7)', () => {
  let redis: TestRedis;
  let heat: HeatStub;
  let r: Redis;
  let t: TestApp;
  const clock = new ManualClock(T0);
  const op = newToken();
  const svc = newToken();
  const viewer = newToken();
  const svcAuth = { authorization: `Bearer ${svc}` };
  const viewAuth = { authorization: `Bearer ${viewer}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0.25);
    r = redis.client();
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        P28_MODE: 'enforce',
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        BUDGET_UNIVERSE: 'BTCUSDT',
        HEAT_GATE_METRICS_URL: heat.url,
        OPS_API_TOKENS: [
          tokenEntry('alice', 'operator', op),
          tokenEntry('gov', 'service', svc),
          tokenEntry('eve', 'viewer', viewer),
        ].join(','),
      },
      { clock },
    );
    await t.app.get(BudgetScheduler).settled();
  });
  afterAll(async () => {
    await t?.close();
    await heat?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await r.del(DECISIONS);
    await r.hset(Keys.portfolioState, {
      equity_usd: '100000',
      drawdown: '0',
      timestamp: String(Math.floor(clock.nowMs() / 1000)),
    });
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '60000' });
    await t.app.get(BudgetEngine).tick();
  });

  const entries = async () =>
    (await r.xrange(DECISIONS, '-', '+')).map(([, f]) => {
      // an entry is one field `d`: every value as a JSON array in the §7 order
      expect(f[0]).toBe('d');
      expect(f).toHaveLength(2);
      const values = JSON.parse(f[1]) as string[];
      const o: Record<string, string> = {};
      DECISION_FIELDS.forEach((k, i) => (o[k] = values[i]));
      return o;
    });

  it('a service caller’s decision is logged with every §7 field, and GET /governor/decisions?plan_id= returns it', async () => {
    // heat 0.25, cluster 0, vol 0.33 → stress 0.166; 100000 × 0.02 × 0.834 = 1668; position 600
    const res = await request(t.http)
      .post('/governor/evaluate')
      .set(svcAuth)
      .send({ plan_id: 'dl-1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.03 })
      .expect(200);
    // |0.01 + 0.03| × 60000 = 2400 > 1668
    expect(res.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      budget_usd: 1668,
    });
    const logged = await waitFor(async () => (await entries()).find((e) => e.plan_id === 'dl-1'), {
      timeoutMs: 2000,
      what: 'the decision log entry',
    });
    expect(Object.keys(logged).sort()).toEqual([...DECISION_FIELDS].sort());
    expect(logged).toMatchObject({
      symbol: 'BTCUSDT',
      side: 'BUY',
      qty: '0.03',
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      mode: 'enforce',
      enforced: 'true',
      budget_usd: '1668',
      budget_age_sec: '0',
      position_amt: '0.01',
      price: '60000',
      equity_usd: '100000',
      portfolio_heat: '0.25',
      cluster_stress: '0',
      vol_regime: '0.33',
      policy_version: '0',
      timestamp_ms: String(T0),
    });

    const got = await request(t.http).get('/governor/decisions?plan_id=dl-1').set(viewAuth).expect(200);
    expect(got.body.decisions).toHaveLength(1);
    for (const f of DECISION_FIELDS) expect(got.body.decisions[0], f).toHaveProperty(f);
    expect(got.body.decisions[0]).toMatchObject({ plan_id: 'dl-1', decision: 'BLOCK', budget_usd: 1668 });
  });

  it('an unauthenticated caller’s decision is not logged', async () => {
    await request(t.http)
      .post('/governor/evaluate')
      .send({ plan_id: 'anon-1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.001 })
      .expect(200);
    await request(t.http)
      .post('/governor/evaluate')
      .set(svcAuth)
      .send({ plan_id: 'after-anon', symbol: 'BTCUSDT', side: 'BUY', qty: 0.001 })
      .expect(200);
    await waitFor(async () => (await entries()).some((e) => e.plan_id === 'after-anon'), {
      timeoutMs: 2000,
      what: 'the authenticated entry',
    });
    expect((await entries()).map((e) => e.plan_id)).toEqual(['after-anon']);
  });

  it('the plan consumer’s decision is logged', async () => {
    await t.app
      .get(PlanConsumer)
      .processBatch([
        [
          '1-1',
          [
            'plan_id',
            'dl-consumer',
            'symbol',
            'BTCUSDT',
            'decision',
            'EXECUTE',
            'side',
            'SELL',
            'qty',
            '0.01',
          ],
        ],
      ]);
    const logged = await waitFor(async () => (await entries()).find((e) => e.plan_id === 'dl-consumer'), {
      timeoutMs: 2000,
      what: 'the consumer entry',
    });
    expect(logged).toMatchObject({ decision: 'ALLOW', reason: 'reduces_risk', side: 'SELL' });
  });

  it('GET /governor/decisions?symbol=&since=&limit= answers newest first; a viewer token is required', async () => {
    for (const id of ['s-1', 's-2', 's-3']) {
      await request(t.http)
        .post('/governor/evaluate')
        .set(svcAuth)
        .send({ plan_id: id, symbol: 'BTCUSDT', projected_notional: 100 })
        .expect(200);
      clock.advance(1000);
    }
    await waitFor(async () => (await entries()).length === 3, { timeoutMs: 2000, what: 'three entries' });
    const got = await request(t.http)
      .get(`/governor/decisions?symbol=BTCUSDT&since=${Math.floor(T0 / 1000)}&limit=2`)
      .set(viewAuth)
      .expect(200);
    expect(got.body.decisions.map((d: { plan_id: string }) => d.plan_id)).toEqual(['s-3', 's-2']);
    await request(t.http).get('/governor/decisions?plan_id=s-1').expect(401);
    await request(t.http).get('/governor/decisions?symbol=__proto__').set(viewAuth).expect(400);
  });
  it('a log write that fails (another service wrote a string at the key) is counted; the answer is unaffected', async () => {
    await r.set(DECISIONS, 'not a stream');
    const metric = async () => {
      const m = /^p28_decision_log_fail_total (\d+)$/m.exec((await request(t.http).get('/metrics')).text);
      return m ? Number(m[1]) : NaN;
    };
    const before = await metric();
    const res = await request(t.http)
      .post('/governor/evaluate')
      .set(svcAuth)
      .send({ plan_id: 'dl-fail', symbol: 'BTCUSDT', projected_notional: 100 })
      .expect(200);
    expect(res.body).toMatchObject({ decision: 'ALLOW', reason: 'within_budget' });
    await waitFor(async () => (await metric()) === before + 1, {
      timeoutMs: 2000,
      what: 'the failure counted',
    });
    expect(await r.get(DECISIONS)).toBe('not a stream');
  });
});
