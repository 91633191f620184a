import type { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../src/budget/budget.scheduler.js';
import { GateRepository } from '../../src/governor-gate/gate.repository.js';
import { PlanConsumer } from '../../src/governor-gate/plan-consumer.js';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import { ModeCache } from '../../src/ops/mode/mode-cache.js';
import { Keys } from '../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../support/app.js';
import { adminClient } from '../support/redis-cluster.js';
import { holdersOf, scanKeys } from '../support/topology-keys.js';
import { startTopology, type TestTopology } from '../support/topology.js';
import { CONTRACT_BUDGET_FIELDS } from '../support/contract.js';

/**
 * The core scenarios (budget tick, mode change with ledger, gate block, plan consumer) on the two
 * production topologies besides a single Redis. Always both, whatever P28_TEST_TOPOLOGY says: these
 * are the tests that prove the hash tags, scripts and SCANs hold up where keys live on several
 * servers or the master moves.
 */

// The contract's weights and bounds (CONTRACT.md §2), written out independently of the calculator.
const RISK = 0.02;
const MIN = 500;
const MAX = 10000;
const EQUITY = 100_000;
/** Heat unreachable → 0, no cluster data → 0, no vol data → 0.33 (normal). */
const STRESS = 0.4 * 0 + 0.4 * 0 + 0.2 * 0.33;
const BUDGET = Math.min(MAX, Math.max(MIN, EQUITY * RISK * (1 - STRESS))); // 1868

// Symbols picked so that their position keys hash to slots of all three masters (the test checks it).
/** Over budget (3000 > 1868), current key pattern. */
const OVER = { symbol: 'BTCUSDT', amt: '0.05', price: '60000', notional: 3000 };
/** Under budget (600), legacy key pattern only. */
const UNDER = { symbol: 'ADAUSDT', amt: '1200', price: '0.5', notional: 600 };
/** Under budget (900), legacy pattern, price from current_price. */
const UNDER_LEGACY_PRICE = { symbol: 'LINKUSDT', amt: '-60', price: '15', notional: 900 };

const BUDGET_FIELDS = [...CONTRACT_BUDGET_FIELDS].sort();

const PLANS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['cluster', 'sentinel'] as const)('core scenarios on Redis %s', (kind) => {
  let topo: TestTopology;
  let t: TestApp;
  let own: Redis | Cluster;
  // the write endpoints allow 30 requests per actor per minute: the failover run spreads its
  // changes over several operators so the throttle never answers for Redis
  const operators = Array.from({ length: 6 }, (_, i) => ({ name: `op${i}`, token: newToken() }));
  const as = (i = 0) => ({ authorization: `Bearer ${operators[i % operators.length].token}` });
  const putMode = (body: Record<string, unknown>, who = 0) =>
    request(t.http).put('/ops/mode').set(as(who)).send(body);
  const ledger = async () =>
    (await request(t.http).get('/ops/ledger?limit=1000').set(as()).expect(200)).body.entries as Array<
      Record<string, string | number>
    >;
  const verify = async () => (await request(t.http).get('/ops/ledger/verify').set(as()).expect(200)).body;

  beforeAll(async () => {
    topo = await startTopology(kind);
    own = topo.client();
    t = await createTestApp({
      ...topo.env,
      P28_MODE: 'shadow',
      P28_TEST_MODE: '1',
      OPS_API_TOKENS: operators.map((o) => tokenEntry(o.name, 'operator', o.token)).join(','),
      GATE_CONSUME_PLANS: '1',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      // nothing listens on port 1: the heat fetch fails at once and reads as 0
      HEAT_GATE_METRICS_URL: 'http://127.0.0.1:1/metrics',
      HEAT_TIMEOUT_MS: '200',
      ...(kind === 'sentinel' ? { REDIS_WAIT_REPLICAS: '1' } : {}),
    });
    // the startup tick must not land inside a scenario
    await t.app.get(BudgetScheduler).settled();
  }, 30_000);
  afterAll(async () => {
    await t?.close();
    await topo?.close();
  });

  it('budget tick: positions under both key patterns give a budget hash per symbol, and a violation for the one over budget', async () => {
    await request(t.http)
      .post('/test/inject_portfolio_state')
      .set(as())
      .send({ equity_usd: EQUITY, drawdown: 0.02 })
      .expect(200);
    await own.hset(Keys.position(OVER.symbol), {
      position_amt: OVER.amt,
      side: 'LONG',
      mark_price: OVER.price,
    });
    await own.hset(Keys.legacyPosition(UNDER.symbol), {
      position_amt: UNDER.amt,
      side: 'LONG',
      mark_price: UNDER.price,
    });
    await own.hset(Keys.legacyPosition(UNDER_LEGACY_PRICE.symbol), {
      position_amt: UNDER_LEGACY_PRICE.amt,
      side: 'SHORT',
      current_price: UNDER_LEGACY_PRICE.price,
    });
    const positionKeys = [
      Keys.position(OVER.symbol),
      Keys.legacyPosition(UNDER.symbol),
      Keys.legacyPosition(UNDER_LEGACY_PRICE.symbol),
    ];
    const holders = await holdersOf(own, positionKeys);
    expect([...holders.keys()].sort()).toEqual([...positionKeys].sort());
    // on the cluster the engine's SCAN must visit every master to find them all
    if (kind === 'cluster') expect(new Set(holders.values()).size).toBe(3);

    const res = await t.app.get(BudgetEngine).tick();
    expect(res).toMatchObject({
      outcome: 'written',
      portfolio: 'fresh',
      symbols: [OVER.symbol, UNDER.symbol, UNDER_LEGACY_PRICE.symbol].sort(),
      written: 3,
      violations: [OVER.symbol],
      writeFailures: 0,
    });

    for (const p of [OVER, UNDER, UNDER_LEGACY_PRICE]) {
      const key = Keys.budget(p.symbol);
      const h = await own.hgetall(key);
      expect(Object.keys(h).sort()).toEqual(BUDGET_FIELDS);
      expect(h.symbol).toBe(p.symbol);
      expect(Number(h.budget_usd)).toBeCloseTo(BUDGET, 6);
      expect(Number(h.stress_factor)).toBeCloseTo(STRESS, 6);
      expect(Number(h.equity_usd)).toBe(EQUITY);
      expect(Number(h.position_notional)).toBeCloseTo(p.notional, 6);
      expect(Number(h.utilization)).toBeCloseTo(p.notional / BUDGET, 6);
      expect(h.mode).toBe('shadow');
      const ttl = await own.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
    }
    expect(await scanKeys(own, 'quantum:portfolio:violation:*')).toEqual([Keys.violation(OVER.symbol)]);
    const v = await own.hgetall(Keys.violation(OVER.symbol));
    expect(Number(v.position_notional)).toBeCloseTo(OVER.notional, 6);
    expect(Number(v.budget_usd)).toBeCloseTo(BUDGET, 6);
    expect(Number(v.over_budget)).toBeCloseTo(OVER.notional - BUDGET, 6);
    const vttl = await own.ttl(Keys.violation(OVER.symbol));
    expect(vttl).toBeGreaterThan(0);
    expect(vttl).toBeLessThanOrEqual(120);

    const stream = await own.xrange(Keys.violationStream, '-', '+');
    expect(stream).toHaveLength(1);
    const fields = stream[0][1];
    expect(fields[fields.indexOf('symbol') + 1]).toBe(OVER.symbol);
    const json = JSON.parse(fields[fields.indexOf('json') + 1]);
    expect(Object.keys(json).sort()).toEqual(
      ['event_type', 'symbol', 'position_notional', 'budget_usd', 'over_budget', 'mode', 'timestamp'].sort(),
    );
    expect(json).toMatchObject({ event_type: 'budget.violation', symbol: OVER.symbol, mode: 'shadow' });
  });

  it('mode change with ledger: enforce and an override are written with their entries, and the chain verifies', async () => {
    const before = (await ledger()).length;
    const enforce = await putMode({ mode: 'enforce', reason: `${kind}: enforce for the scenarios` }).expect(
      200,
    );
    expect(enforce.body).toMatchObject({ mode: 'enforce', version: expect.any(Number) });
    const override = await putMode({
      mode: 'shadow',
      symbol: 'XRPUSDT',
      reason: `${kind}: XRP stays in shadow`,
      expected_version: enforce.body.version,
    }).expect(200);
    expect(override.body).toMatchObject({
      mode: 'shadow',
      symbol: 'XRPUSDT',
      version: enforce.body.version + 1,
    });

    const entries = await ledger();
    expect(entries).toHaveLength(before + 2);
    // newest first
    expect(entries[0]).toMatchObject({
      operation_id: override.body.operation_id,
      scope: 'XRPUSDT',
      to_mode: 'shadow',
      actor: 'op0',
      outcome: 'applied',
    });
    expect(entries[1]).toMatchObject({
      operation_id: enforce.body.operation_id,
      scope: 'global',
      from_mode: 'shadow',
      to_mode: 'enforce',
      actor: 'op0',
    });
    expect(entries[0].prev_hash).toBe(entries[1].hash);
    expect(await verify()).toMatchObject({ ok: true, entries: before + 2 });

    // the stored state is what the API answered, on whichever server holds the {p28:ops} slot
    expect(await own.hgetall(Keys.mode)).toMatchObject({
      mode: 'enforce',
      version: String(override.body.version),
      operation_id: override.body.operation_id,
    });
    expect(await own.hgetall(Keys.modeOverrides)).toEqual({ XRPUSDT: 'shadow' });
    await waitFor(() => t.app.get(ModeCache).current().version === override.body.version, {
      what: 'the replica to follow the change',
    });
  });

  it('gate block: in enforce the over-budget symbol is blocked for its violation, an under-budget one allowed', async () => {
    const evaluate = (body: Record<string, unknown>) =>
      request(t.http).post('/governor/evaluate').set(as()).send(body).expect(200);
    // These are the app's first decisions. On a cluster, ioredis would open each node's connection
    // on the first command routed there, and connect + ready check can outlast the 50 ms gate
    // timeout: the gate must have connected to every master at boot, not fail open on a cold socket.
    expect(t.app.get(GateRepository).allNodesReady).toBe(true);

    const blocked = await evaluate({
      plan_id: `${kind}-over-1`,
      symbol: OVER.symbol,
      side: 'BUY',
      qty: 0.01,
    });
    expect(blocked.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_budget_violation',
      mode: 'enforce',
      enforced: true,
    });
    expect(blocked.body.budget_usd).toBeCloseTo(BUDGET, 6);

    const allowed = await evaluate({
      plan_id: `${kind}-under-1`,
      symbol: UNDER.symbol,
      side: 'BUY',
      projected_notional: 1000,
    });
    expect(allowed.body).toMatchObject({ decision: 'ALLOW', reason: 'within_budget', mode: 'enforce' });
    expect(allowed.body.fail_open).toBeUndefined();

    // the same under-budget symbol with a plan past its budget: the budget, not luck, allowed it
    const projected = await evaluate({
      plan_id: `${kind}-under-2`,
      symbol: UNDER.symbol,
      side: 'BUY',
      projected_notional: BUDGET + 1,
    });
    expect(projected.body).toMatchObject({ decision: 'BLOCK', reason: 'p28_projected_over_budget' });
  });

  it(`consumer: ${PLANS} EXECUTE plans give exactly ${PLANS} permit-or-block keys and ${PLANS} governor events`, async () => {
    const consumer = t.app.get(PlanConsumer);
    expect(consumer.running).toBe(true);
    // the group is created at `$`: plans published before it exists would never be read
    await waitFor(
      async () => {
        const groups = (await own.xinfo('GROUPS', Keys.planStream).catch(() => [])) as unknown[][];
        return groups.some((g) => g[g.indexOf('name') + 1] === Keys.planConsumerGroup);
      },
      { what: 'the p28-gate consumer group' },
    );
    const eventsBefore = await own.xlen(Keys.governorEvents);
    const prefix = `${kind}-plan`;
    const p = own.pipeline();
    for (let i = 0; i < PLANS; i++) {
      const symbol = i % 2 === 0 ? OVER.symbol : UNDER.symbol;
      if (i % 4 < 2) {
        p.xadd(
          Keys.planStream,
          '*',
          'plan_id',
          `${prefix}-${i}`,
          'symbol',
          symbol,
          'decision',
          'EXECUTE',
          'side',
          'BUY',
          'qty',
          '0.001',
        );
      } else {
        p.xadd(
          Keys.planStream,
          '*',
          'payload',
          JSON.stringify({ plan_id: `${prefix}-${i}`, symbol, decision: 'EXECUTE', side: 'BUY', qty: 0.001 }),
        );
      }
    }
    // noise the consumer must acknowledge and skip
    for (let i = 0; i < 10; i++) {
      p.xadd(
        Keys.planStream,
        '*',
        'plan_id',
        `${prefix}-skip-${i}`,
        'symbol',
        OVER.symbol,
        'decision',
        'SKIP',
      );
    }
    await p.exec();

    const pending = async () =>
      ((await own.xpending(Keys.planStream, Keys.planConsumerGroup)) as [number])[0];
    await waitFor(
      async () => (await own.xlen(Keys.governorEvents)) - eventsBefore >= PLANS && (await pending()) === 0,
      { timeoutMs: 20_000, what: `${PLANS} governor events and nothing pending` },
    );

    const permits = await scanKeys(own, `quantum:permit:p28:${prefix}-*`);
    const blocks = await scanKeys(own, `quantum:p28:block:${prefix}-*`);
    const idOf = (k: string) => k.slice(k.lastIndexOf(':') + 1);
    const all = [...permits, ...blocks].map(idOf);
    expect(all).toHaveLength(PLANS);
    expect(new Set(all).size).toBe(PLANS);
    // every over-budget plan blocked, every under-budget one permitted: no fail-open on the way
    const overIds = Array.from({ length: PLANS / 2 }, (_, i) => `${prefix}-${2 * i}`).sort();
    const underIds = Array.from({ length: PLANS / 2 }, (_, i) => `${prefix}-${2 * i + 1}`).sort();
    expect(blocks.map(idOf).sort()).toEqual(overIds);
    expect(permits.map(idOf).sort()).toEqual(underIds);

    const events = (await own.xrange(Keys.governorEvents, '-', '+')).slice(eventsBefore);
    const ids = events.map(([, f]) => f[f.indexOf('plan_id') + 1]);
    expect(ids).toHaveLength(PLANS);
    expect(new Set(ids).size).toBe(PLANS);
    const reasons: Record<string, number> = {};
    for (const [, f] of events) {
      const reason = f[f.indexOf('reason') + 1];
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    expect(reasons).toEqual({ p28_budget_violation: PLANS / 2, within_budget: PLANS / 2 });
    expect(await scanKeys(own, `*${prefix}-skip-*`)).toEqual([]);
  });

  if (kind !== 'sentinel') return;

  it('failover in the middle of mode changes: the app follows the new master and no change answered 200 is lost', async () => {
    const sentinel = topo.sentinel!;
    type Sent = { i: number; reason: string; status: number; body: Record<string, unknown>; phase: string };
    const sent: Sent[] = [];
    let n = 0;
    // each change sets an override on a symbol of its own, so none is a no-op whatever the
    // fate of the ones before it, and its reason identifies it in the ledger
    const change = async (phase: string) => {
      const i = n++;
      const reason = `failover run ${phase} #${i}`;
      const res = await putMode({ mode: 'enforce', symbol: `FO${i}USDT`, reason }, i);
      sent.push({ i, reason, status: res.status, body: res.body as Record<string, unknown>, phase });
      return res.status;
    };
    const ledgerBefore = (await ledger()).length;

    for (let i = 0; i < 5; i++) expect(await change('before')).toBe(200);

    const oldMaster = sentinel.masterPort();
    let failoverDone = false;
    const failover = sentinel.failover().finally(() => (failoverDone = true));
    // changes keep coming while the sentinels promote the replica: the first one concurrently
    const during: Promise<number>[] = [];
    while (!failoverDone) {
      during.push(change('during'));
      await sleep(100);
    }
    await failover;
    await Promise.all(during);
    expect(sentinel.masterPort()).not.toBe(oldMaster);

    await waitFor(async () => (await request(t.http).get('/health')).status === 200, {
      timeoutMs: 15_000,
      what: '/health 200 after the failover',
    });
    // With REDIS_WAIT_REPLICAS=1 a change is confirmed only once the new master has a replica
    // again, i.e. once sentinel has demoted the old master (~10 s): until then 503 unconfirmed.
    await waitFor(async () => (await change('after')) === 200, {
      timeoutMs: 25_000,
      intervalMs: 200,
      what: 'a change to succeed on the new master',
    });
    for (let i = 0; i < 4; i++) expect(await change('after')).toBe(200);

    const ok = sent.filter((s) => s.status === 200);
    const refused = sent.filter((s) => s.status !== 200);
    // a refusal during the window must say so, never a 500 or a silent 2xx
    for (const s of refused) {
      expect(s.status, JSON.stringify(s)).toBe(503);
      expect(['unconfirmed', 'not_applied', 'unknown']).toContain(s.body.outcome);
    }

    const entries = await ledger();
    const byReason = new Map<string, Array<Record<string, string | number>>>();
    for (const e of entries) byReason.set(String(e.reason), [...(byReason.get(String(e.reason)) ?? []), e]);
    // every 200 is on the new master, exactly once, under the operation id it was answered with
    for (const s of ok) {
      const hits = byReason.get(s.reason) ?? [];
      expect(hits, s.reason).toHaveLength(1);
      expect(hits[0].operation_id).toBe(s.body.operation_id);
    }
    // a 503 may or may not have survived, but never twice
    const refusedKept = refused.filter((s) => (byReason.get(s.reason) ?? []).length === 1);
    for (const s of refused) expect((byReason.get(s.reason) ?? []).length).toBeLessThanOrEqual(1);
    expect(entries).toHaveLength(ledgerBefore + ok.length + refusedKept.length);
    expect(await verify()).toMatchObject({ ok: true, entries: entries.length });
    // read straight from the server the sentinels name: that is where the app wrote them
    const direct = adminClient(sentinel.masterPort());
    try {
      await direct.connect();
      expect(await direct.xlen(Keys.ledger)).toBe(entries.length);
    } finally {
      direct.disconnect();
    }

    // the state agrees with the ledger: an override is in force exactly when its entry survived
    const overrides = await own.hgetall(Keys.modeOverrides);
    const inForce = Object.keys(overrides).filter((k) => /^FO\d+USDT$/.test(k));
    const logged = entries.map((e) => String(e.scope)).filter((k) => /^FO\d+USDT$/.test(k));
    expect(inForce.sort()).toEqual(logged.sort());
    for (const s of ok) expect(overrides[`FO${s.i}USDT`]).toBe('enforce');

    const counts = {
      changes: sent.length,
      ok: ok.length,
      refused: refused.map((s) => `${s.phase}:${String(s.body.outcome)}`),
      refusedKept: refusedKept.length,
      during: sent.filter((s) => s.phase === 'during').length,
      ledger: entries.length,
    };
    console.log(`sentinel failover run: ${JSON.stringify(counts)}`);
  }, 60_000);
});
