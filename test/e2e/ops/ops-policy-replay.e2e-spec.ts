import request from 'supertest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetCalculator, paramsOf } from '../../../src/core/budget-calculator.js';
import { GateEvaluator } from '../../../src/governor-gate/gate-evaluator.js';
import { rejudge } from '../../../src/governor-gate/policy-replay.js';
import { parseDecision, DECISION_FIELDS } from '../../../src/governor-gate/decision-entry.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const DECISIONS = 'quantum:p28:decisions';
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

/** A logged decision with the §2 worked inputs: equity 100000, heat 0.25, cluster 0, vol 0.33 → budget 1668. */
function logged(over: Record<string, string>): Record<string, string> {
  return {
    plan_id: 'x',
    symbol: 'BTCUSDT',
    side: '',
    qty: '',
    projected_notional: '',
    reduce_only: '',
    decision: 'ALLOW',
    reason: 'within_budget',
    mode: 'enforce',
    enforced: 'true',
    budget_usd: '1668',
    budget_age_sec: '3',
    violation_age_sec: '',
    position_amt: '0',
    price: '60000',
    equity_usd: '100000',
    portfolio_heat: '0.25',
    cluster_stress: '0',
    vol_regime: '0.33',
    policy_version: '0',
    timestamp_ms: String(T0),
    ...over,
  };
}

const LOG = [
  logged({ plan_id: 'A', projected_notional: '1500' }),
  logged({ plan_id: 'B', projected_notional: '1200' }),
  logged({
    plan_id: 'C',
    projected_notional: '2000',
    decision: 'BLOCK',
    reason: 'p28_projected_over_budget',
  }),
  // fail-open: no budget, stale budget: stay as logged whatever the policy
  logged({
    plan_id: 'D',
    projected_notional: '50000',
    reason: 'no_budget',
    enforced: 'false',
    budget_usd: '',
  }),
  logged({
    plan_id: 'E',
    projected_notional: '90000',
    reason: 'stale_budget',
    enforced: 'false',
    budget_age_sec: '400',
  }),
  // shadow: would have blocked (2000 > 1668)
  logged({
    plan_id: 'F',
    projected_notional: '2000',
    reason: 'shadow_mode',
    mode: 'shadow',
    enforced: 'false',
  }),
  logged({ plan_id: 'G', side: 'SELL', qty: '0.01', position_amt: '0.02', reason: 'reduces_risk' }),
  // a violation 5 s old with 0.03 × 60000 = 1800 over 1668
  logged({
    plan_id: 'H',
    symbol: 'ETHUSDT',
    projected_notional: '100',
    position_amt: '0.03',
    violation_age_sec: '5',
    decision: 'BLOCK',
    reason: 'p28_budget_violation',
  }),
];

describe('POST /ops/policy/replay (docs/contract.md §7)', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const viewer = newToken();
  const auth = { authorization: `Bearer ${viewer}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        OPS_API_TOKENS: tokenEntry('eve', 'viewer', viewer),
      },
      { clock: new ManualClock(T0) },
    );
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await r.del(DECISIONS);
    for (const e of LOG) {
      // the gate's own entry shape: one field `d`, every value as a JSON array in §7 order
      const values = DECISION_FIELDS.map((f) => String((e as Record<string, unknown>)[f] ?? ''));
      await r.xadd(DECISIONS, '*', 'd', JSON.stringify(values));
    }
  });

  const replay = async (body: Record<string, unknown>) =>
    (await request(t.http).post('/ops/policy/replay').set(auth).send(body).expect(200)).body;

  it('with the policy in force it reproduces the logged decisions: nothing newly blocked or allowed', async () => {
    const res = await replay({ policy: {} });
    expect(res).toMatchObject({
      decisions: LOG.length,
      changed: { newly_blocked: 0, newly_allowed: 0 },
      samples: { newly_blocked: [], newly_allowed: [] },
    });
    expect(res.assumption).toMatch(/enforce/);
    expect(res.per_symbol.BTCUSDT).toMatchObject({ decisions: 7, blocked_before: 2, blocked_after: 2 });
    expect(res.per_symbol.ETHUSDT).toMatchObject({ decisions: 1, blocked_before: 1, blocked_after: 1 });
  });

  it('a tighter base_risk_pct newly blocks exactly the plans under whose notional the new budget falls', async () => {
    // 100000 × 0.015 × 0.834 = 1251: A (1500) over it, B (1200) within; C already blocked
    const res = await replay({ policy: { base_risk_pct: 0.015 } });
    expect(res.changed).toEqual({ newly_blocked: 1, newly_allowed: 0 });
    expect(res.samples.newly_blocked).toEqual(['A']);
    expect(res.per_symbol.BTCUSDT).toMatchObject({ budget_before_avg: 1668, budget_after_avg: 1251 });
    const before = await r.xlen(DECISIONS);
    expect(before).toBe(LOG.length); // replay writes nothing
  });

  it('a looser one newly allows them; fail-open and reduce-only entries stay as logged', async () => {
    // 100000 × 0.025 × 0.834 = 2085: C and F (2000) within; H's position 1800 no longer violates
    const res = await replay({ policy: { base_risk_pct: 0.025 } });
    expect(res.changed).toEqual({ newly_blocked: 0, newly_allowed: 3 });
    expect([...res.samples.newly_allowed].sort()).toEqual(['C', 'F', 'H']);
    // a policy loose enough to pass 90000 still leaves D and E as logged (fail-open, not blocked)
    const huge = await replay({ policy: { base_risk_pct: 1, max_budget_usd: 1e9 } });
    expect(huge.samples.newly_allowed).not.toContain('D');
    expect(huge.samples.newly_allowed).not.toContain('E');
    const tiny = await replay({ policy: { base_risk_pct: 0.0001, min_budget_usd: 0 } });
    expect(tiny.samples.newly_blocked).not.toContain('D');
    expect(tiny.samples.newly_blocked).not.toContain('E');
    expect(tiny.samples.newly_blocked).not.toContain('G');
  });

  it('filters by symbol and window, and refuses a bad policy naming the field', async () => {
    const eth = await replay({ policy: { base_risk_pct: 0.025 }, symbol: 'ETHUSDT' });
    expect(eth).toMatchObject({ decisions: 1, changed: { newly_allowed: 1 } });
    const future = await replay({ policy: {}, since: Math.floor(Date.now() / 1000) + 3600 });
    expect(future.decisions).toBe(0);
    const bad = await request(t.http)
      .post('/ops/policy/replay')
      .set(auth)
      .send({ policy: { base_risk_pct: 2 } })
      .expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('base_risk_pct');
    await request(t.http).post('/ops/policy/replay').send({ policy: {} }).expect(401);
  });

  it('property: for any policy and logged decision, the verdict equals GateEvaluator on the recomputed budget', () => {
    const evaluator = new GateEvaluator({
      defaultMode: 'shadow',
      budgetMaxAgeSec: 60,
      violationWindowSec: 30,
    });
    const policyArb = fc
      .record({
        alpha_heat: fc.double({ min: 0, max: 2, noNaN: true }),
        beta_cluster: fc.double({ min: 0, max: 2, noNaN: true }),
        gamma_vol: fc.double({ min: 0, max: 2, noNaN: true }),
        base_risk_pct: fc.double({ min: 0.0001, max: 1, noNaN: true }),
        min_budget_usd: fc.double({ min: 0, max: 5000, noNaN: true }),
        max_budget_usd: fc.double({ min: 5000, max: 100000, noNaN: true }),
      })
      .filter((p) => p.min_budget_usd <= p.max_budget_usd);
    const entryArb = fc.record({
      projected_notional: fc.double({ min: 0, max: 50000, noNaN: true }),
      position_amt: fc.double({ min: -1, max: 1, noNaN: true }),
      equity_usd: fc.double({ min: 1, max: 1e6, noNaN: true }),
      portfolio_heat: fc.double({ min: 0, max: 2, noNaN: true }),
      violation_age_sec: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
      reason: fc.constantFrom(
        'within_budget',
        'p28_projected_over_budget',
        'p28_budget_violation',
        'shadow_mode',
      ),
    });
    fc.assert(
      fc.property(policyArb, entryArb, (policy, e) => {
        const entry = logged({
          plan_id: 'P',
          projected_notional: String(e.projected_notional),
          position_amt: String(e.position_amt),
          equity_usd: String(e.equity_usd),
          portfolio_heat: String(e.portfolio_heat),
          violation_age_sec: e.violation_age_sec === undefined ? '' : String(e.violation_age_sec),
          reason: e.reason,
        }) as Record<string, unknown>;
        const values = DECISION_FIELDS.map((f) => String(entry[f] ?? ''));
        const d = parseDecision(['d', JSON.stringify(values)]);
        const calc = new BudgetCalculator(paramsOf(policy));
        const verdict = rejudge(d, calc, evaluator);
        // independently: the budget from the logged inputs, then the evaluator in enforce
        const out = calc.compute({
          equityUsd: e.equity_usd,
          heat: e.portfolio_heat,
          cluster: 0,
          vol: 0.33,
          positionNotional: Math.abs(e.position_amt) * 60000,
        });
        if (!out.ok) return verdict.budget === undefined;
        const budget = out.result.budgetUsd;
        const violationCounts =
          e.violation_age_sec !== undefined && Math.abs(e.position_amt) * 60000 > budget;
        const expected = evaluator.decide(
          { plan_id: 'P', symbol: 'BTCUSDT', projected_notional: e.projected_notional },
          {
            mode: 'enforce',
            modeExpiresAt: null,
            modeRevertTo: null,
            override: null,
            budgetUsd: String(budget),
            budgetTimestamp: '1000',
            budgetPositionNotional: null,
            budgetPrice: null,
            violationTimestamp: violationCounts ? String(1003 - (e.violation_age_sec ?? 0)) : null,
            position: { position_amt: String(e.position_amt), mark_price: '60000' },
            legacyPosition: null,
          },
          1003,
        );
        expect(verdict.blocked).toBe(expected.decision.decision === 'BLOCK');
        expect(verdict.budget).toBe(budget);
      }),
      { numRuns: 500 },
    );
    expect(DECISION_FIELDS).toHaveLength(21);
  });
});
