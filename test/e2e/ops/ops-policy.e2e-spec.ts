import request from 'supertest';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('ops: the risk policy as shared state (docs/contract.md §7)', () => {
  let redis: TestRedis;
  let heat: HeatStub;
  let r: Redis;
  let a: TestApp;
  let b: TestApp;
  const clock = new ManualClock(T0);
  const op = newToken();
  const svc = newToken();
  const auth = { authorization: `Bearer ${op}` };
  const svcAuth = { authorization: `Bearer ${svc}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0);
    r = redis.client();
    const env = {
      REDIS_URL: redis.url,
      P28_MODE: 'enforce',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      BUDGET_UNIVERSE: 'BTCUSDT',
      HEAT_GATE_METRICS_URL: heat.url,
      OPS_API_TOKENS: `${tokenEntry('alice', 'operator', op)},${tokenEntry('gov', 'service', svc)}`,
    };
    a = await createTestApp(env, { clock });
    b = await createTestApp(env, { clock });
    await a.app.get(BudgetScheduler).settled();
    await b.app.get(BudgetScheduler).settled();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await heat?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await r.hset(Keys.portfolioState, {
      equity_usd: '100000',
      drawdown: '0',
      timestamp: String(Math.floor(clock.nowMs() / 1000)),
    });
  });

  const getPolicy = async (t: TestApp) =>
    (await request(t.http).get('/ops/policy').set(auth).expect(200)).body;

  it('seeds from the environment: GET /ops/policy answers the six parameters at version 0', async () => {
    const body = await getPolicy(a);
    expect(body).toMatchObject({
      policy: {
        alpha_heat: 0.4,
        beta_cluster: 0.4,
        gamma_vol: 0.2,
        base_risk_pct: 0.02,
        min_budget_usd: 500,
        max_budget_usd: 10000,
      },
      version: 0,
    });
    expect(await r.hget(Keys.policy, 'version')).toBe('0');
  });

  it('a change on one replica changes the next tick of the leader, and the other replica gates under it within 1 s', async () => {
    const engine = a.app.get(BudgetEngine);
    // heat 0, cluster 0, vol 0.33 (no market state) → stress 0.066; 100000 × 0.02 × 0.934 = 1868
    await engine.tick();
    expect(await r.hget(Keys.budget('BTCUSDT'), 'budget_usd')).toBe('1868');
    const plan = { plan_id: 'p-policy-1', symbol: 'BTCUSDT', side: 'BUY', projected_notional: 1500 };
    const before = await request(b.http).post('/governor/evaluate').set(svcAuth).send(plan).expect(200);
    expect(before.body).toMatchObject({ decision: 'ALLOW', reason: 'within_budget' });

    const { version } = await getPolicy(b);
    const since = performance.now();
    const put = await request(b.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { base_risk_pct: 0.01 }, reason: 'tighter budgets', expected_version: version })
      .expect(200);
    expect(put.body).toMatchObject({ version: version + 1, policy: { base_risk_pct: 0.01 } });
    expect(put.body.operation_id).toMatch(/^OPS-/);
    await waitFor(async () => (await getPolicy(a)).version === version + 1, {
      timeoutMs: 1000,
      intervalMs: 5,
      what: 'replica A to follow the policy',
    });
    await engine.tick();
    // 100000 × 0.01 × 0.934 = 934
    const hash = await r.hgetall(Keys.budget('BTCUSDT'));
    expect(hash).toMatchObject({
      budget_usd: '934',
      base_risk_pct: '0.01',
      policy_version: String(version + 1),
    });
    const after = await request(b.http)
      .post('/governor/evaluate')
      .set(svcAuth)
      .send({ ...plan, plan_id: 'p-policy-2' })
      .expect(200);
    const ms = performance.now() - since;
    expect(after.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      budget_usd: 934,
    });
    console.log(`policy change on B -> leader A's budget -> B's gate: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    const metrics = (await request(a.http).get('/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^p28_policy_version ${version + 1}$`, 'm'));
  });

  it('concurrent changes with the same expected version: exactly one wins and the ledger verifies', async () => {
    for (let round = 0; round < 4; round++) {
      const { version } = await getPolicy(a);
      const xlen = await r.xlen(Keys.ledger);
      const res = await Promise.all(
        [a, b].map((t, i) =>
          request(t.http)
            .put('/ops/policy')
            .set(auth)
            .send({
              policy: { base_risk_pct: 0.02 + 0.001 * (round * 2 + i) },
              reason: `race ${round}`,
              expected_version: version,
            }),
        ),
      );
      expect(res.map((x) => x.status).sort()).toEqual([200, 409]);
      expect(await r.xlen(Keys.ledger)).toBe(xlen + 1);
      expect(await r.hget(Keys.policy, 'version')).toBe(String(version + 1));
    }
    const verify = await request(a.http).get('/ops/ledger/verify').set(auth).expect(200);
    expect(verify.body).toMatchObject({ ok: true, breaks: [] });
    const ledger = await request(a.http).get('/ops/ledger').set(auth).expect(200);
    const last = ledger.body.entries[0];
    expect(last).toMatchObject({ operation_name: 'set-policy', scope: 'policy' });
    expect(JSON.parse(last.policy_after).base_risk_pct).toBeCloseTo(
      Number(await r.hget(Keys.policy, 'base_risk_pct')),
    );
    expect(last.signature).toBeTruthy();
  });

  it('an invalid policy gets 400 naming the field, and nothing is written', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ alpha_heat: -0.1 }, 'alpha_heat'],
      [{ gamma_vol: 'high' }, 'gamma_vol'],
      [{ beta_cluster: null }, 'beta_cluster'],
      [{ base_risk_pct: 0 }, 'base_risk_pct'],
      [{ base_risk_pct: 1.5 }, 'base_risk_pct'],
      [{ min_budget_usd: 20000 }, 'min_budget_usd'],
      [{ toString: 2 }, 'toString'],
      [{ valueOf: 0.1, base_risk_pct: 0.03 }, 'valueOf'],
      // the JSON parser drops `constructor` and refuses `__proto__` before the policy rules see them
      [{ constructor: 1 }, 'policy'],
      [JSON.parse('{"__proto__": {"base_risk_pct": 0.5}}') as Record<string, unknown>, 'not valid JSON'],
    ];
    const hash = await r.hgetall(Keys.policy);
    const xlen = await r.xlen(Keys.ledger);
    for (const [policy, field] of cases) {
      const res = await request(a.http).put('/ops/policy').set(auth).send({ policy, reason: 'bad value' });
      expect(res.status, JSON.stringify(policy)).toBe(400);
      expect(JSON.stringify(res.body.message), JSON.stringify(policy)).toContain(field);
    }
    // JSON.parse reads 1e400 as Infinity
    const huge = await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .set('content-type', 'application/json')
      .send('{"policy": {"max_budget_usd": 1e400}, "reason": "huge"}');
    expect(huge.status).toBe(400);
    expect(JSON.stringify(huge.body.message)).toContain('max_budget_usd');
    const empty = await request(a.http).put('/ops/policy').set(auth).send({ policy: {}, reason: 'nothing' });
    expect(empty.status).toBe(400);
    const noReason = await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { alpha_heat: 0.3 } });
    expect(noReason.status).toBe(400);
    expect(await r.hgetall(Keys.policy)).toEqual(hash);
    expect(await r.xlen(Keys.ledger)).toBe(xlen);
  });

  it('a viewer or an outsider cannot change it', async () => {
    await request(a.http)
      .put('/ops/policy')
      .send({ policy: { alpha_heat: 0.1 }, reason: 'no token' })
      .expect(401);
    await request(a.http)
      .put('/ops/policy')
      .set(svcAuth)
      .send({ policy: { alpha_heat: 0.1 }, reason: 'service token' })
      .expect(403);
  });

  it('revert restores the previous parameters as a new version, or those of to_version', async () => {
    const start = await getPolicy(a);
    const p1 = await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { base_risk_pct: 0.03, min_budget_usd: 400 }, reason: 'step one' })
      .expect(200);
    await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { base_risk_pct: 0.05 }, reason: 'step two' })
      .expect(200);
    const rev = await request(a.http)
      .post('/ops/policy/revert')
      .set(auth)
      .send({ reason: 'too loose' })
      .expect(200);
    expect(rev.body).toMatchObject({ version: start.version + 3, policy: p1.body.policy });
    expect(await getPolicy(a)).toMatchObject({ version: start.version + 3, policy: p1.body.policy });
    const ledger = await request(a.http).get('/ops/ledger').set(auth).expect(200);
    expect(ledger.body.entries[0]).toMatchObject({ operation_name: 'revert-policy', reason: 'too loose' });

    const to0 = await request(a.http)
      .post('/ops/policy/revert')
      .set(auth)
      .send({ reason: 'back to the seed', to_version: 0 })
      .expect(200);
    expect(to0.body.policy).toEqual({
      alpha_heat: 0.4,
      beta_cluster: 0.4,
      gamma_vol: 0.2,
      base_risk_pct: 0.02,
      min_budget_usd: 500,
      max_budget_usd: 10000,
    });
    await request(a.http)
      .post('/ops/policy/revert')
      .set(auth)
      .send({ reason: 'no such version', to_version: 9999 })
      .expect(400);
    const verify = await request(a.http).get('/ops/ledger/verify').set(auth).expect(200);
    expect(verify.body).toMatchObject({ ok: true });
  });
  it('POST /budgets/simulate computes with the policy in force', async () => {
    await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { base_risk_pct: 0.01 }, reason: 'simulate under it' })
      .expect(200);
    const res = await request(a.http)
      .post('/budgets/simulate')
      .set(auth)
      .send({ equity_usd: 100000, heat: 0, cluster_stress: 0, vol_regime: 0.33 })
      .expect(200);
    // 100000 × 0.01 × (1 − 0.066) = 934
    expect(res.body).toMatchObject({ budget_usd: 934, params: { baseRiskPct: 0.01 } });
  });
  it('a policy another service mangled in Redis is refused: the last good one stays in force, /health degraded', async () => {
    const good = await getPolicy(a);
    const saved = await r.hgetall(Keys.policy);
    await r.hset(Keys.policy, { base_risk_pct: 'lots', version: String(good.version + 1) });
    const policyCause = async () =>
      JSON.stringify((await request(a.http).get('/health')).body.degraded ?? []).includes('risk policy');
    await waitFor(policyCause, { timeoutMs: 2000, what: '/health degraded naming the policy' });
    expect(await getPolicy(a)).toMatchObject({ policy: good.policy, version: good.version });
    await r.del(Keys.policy);
    await r.set(Keys.policy, 'not a hash');
    const put = await request(a.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { alpha_heat: 0.3 }, reason: 'wrong type' });
    expect(put.status).toBe(503);
    expect(await getPolicy(b)).toMatchObject({ policy: good.policy });
    await r.del(Keys.policy);
    await r.hset(Keys.policy, saved);
    await waitFor(async () => !(await policyCause()), {
      timeoutMs: 2000,
      what: '/health without the policy cause',
    });
  });
});
