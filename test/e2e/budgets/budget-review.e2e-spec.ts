import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { sha256Hex } from '../../../src/platform/auth/token-registry.js';
import { LeaderService } from '../../../src/platform/redis/leader.service.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { freePort, startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { metric } from '../../support/metrics.js';

/**
 * What a follower, /health and the compatibility check may trust (docs/contract.md §2, §5): the
 * leader's status only as far as the writes went, never from the future; the loop's success gauge
 * on tick success; the universe only from live market states; the budget hash's reference price.
 */
const VIEWER = randomBytes(16).toString('hex');
const auth = { Authorization: `Bearer ${VIEWER}` };

describe('budget status, health and universe: what may be trusted', () => {
  let redis: TestRedis;
  let r: Redis;
  let heatUrl: string;
  const apps: TestApp[] = [];

  async function boot(clock: ManualClock, env: Record<string, string> = {}) {
    const t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '10',
        HEAT_GATE_METRICS_URL: heatUrl,
        P28_MODE: 'enforce',
        OPS_API_TOKENS: `oncall:viewer:${sha256Hex(VIEWER)}`,
        ...env,
      },
      { clock },
    );
    apps.push(t);
    const scheduler = t.app.get(BudgetScheduler);
    await scheduler.settled();
    return { t, scheduler, leader: t.app.get(LeaderService), metrics: t.app.get(Metrics) };
  }
  async function pair(clock: ManualClock, env: Record<string, string> = {}) {
    const a = await boot(clock, env);
    const b = await boot(clock, env);
    await waitFor(() => a.leader.isLeader() !== b.leader.isLeader(), { what: 'exactly one leader' });
    return a.leader.isLeader() ? [a, b] : [b, a];
  }
  const nowSec = (clock: ManualClock) => Math.floor(clock.nowMs() / 1000);
  const putState = (clock: ManualClock) =>
    r.hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0', timestamp: String(nowSec(clock)) });

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    heatUrl = `http://127.0.0.1:${await freePort()}/metrics`;
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('a status from the future is refused: the follower stays not ready', async () => {
    const clock = new ManualClock(Date.now());
    const [, follower] = await pair(clock, { LEADER_LEASE_MS: '2000' });
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    // another service, or a leader with a clock a day ahead, writes the status
    await r.hset(Keys.budgetStatus, {
      last_success_ms: String(clock.nowMs() + 86_400_000),
      symbols: '1',
      written: '1',
    });
    expect(await follower.scheduler.runOnce()).toEqual({ led: false });
    // an hour on, and the leader wrote nothing since: the future time must not read as age 0
    clock.advance(3_600_000);
    expect(await follower.scheduler.runOnce()).toEqual({ led: false });
    await request(follower.t.http).get('/health/ready').expect(503);
    const h = await request(follower.t.http).get('/health').expect(200);
    expect(h.body.status).toBe('degraded');
  });

  it("a replica that takes over is judged by its own writes, not the old leader's status", async () => {
    const clock = new ManualClock(Date.now());
    const [leader, follower] = await pair(clock, { LEADER_LEASE_MS: '2000' });
    await putState(clock);
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    expect(await leader.scheduler.runOnce()).toMatchObject({ led: true, result: { success: true } });
    expect(await follower.scheduler.runOnce()).toEqual({ led: false });
    await request(follower.t.http).get('/health/ready').expect(200);

    // the leader goes away; the portfolio publisher stopped too: the new leader writes nothing
    await leader.t.close();
    await r.del(Keys.portfolioState);
    await waitFor(() => follower.leader.isLeader(), { what: 'takeover', timeoutMs: 15_000 });
    const res = await follower.scheduler.runOnce();
    expect(res).toMatchObject({ led: true, result: { success: false } });
    const h = await request(follower.t.http).get('/health').expect(200);
    expect(h.body.status).toBe('degraded');
    await request(follower.t.http).get('/health/ready').expect(503);
  }, 30_000);

  it('the status says what was written: a WRONGTYPE budget key degrades the follower as well as the leader', async () => {
    const clock = new ManualClock(Date.now());
    const [leader, follower] = await pair(clock);
    await putState(clock);
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    await r.set(Keys.budget('ETHUSDT'), 'written by another service');
    for (let i = 0; i < 4; i++) {
      clock.advance(10_000);
      await putState(clock);
      expect(await leader.scheduler.runOnce()).toMatchObject({ led: true, result: { written: 0 } });
      await follower.scheduler.runOnce();
    }
    const status = await r.hgetall(Keys.budgetStatus);
    expect(status).toMatchObject({ symbols: '1', written: '0' });
    for (const x of [leader, follower]) {
      const h = await request(x.t.http).get('/health').expect(200);
      expect(h.body.status).toBe('degraded');
      await request(x.t.http).get('/health/ready').expect(503);
    }
  });

  it('a status key of the wrong type: the leader still writes budgets and stays ready, the follower is not ready', async () => {
    const clock = new ManualClock(Date.now());
    const [leader, follower] = await pair(clock);
    await r.set(Keys.budgetStatus, '{"last_success_ms": 9999999999999}');
    await r.persist(Keys.budgetStatus);
    clock.advance(60_000);
    await putState(clock);
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    expect(await leader.scheduler.runOnce()).toMatchObject({
      led: true,
      result: { written: 1, success: true },
    });
    expect(await follower.scheduler.runOnce()).toEqual({ led: false });
    await request(leader.t.http).get('/health/ready').expect(200);
    await request(follower.t.http).get('/health/ready').expect(503);
    expect(await r.type(Keys.budgetStatus)).toBe('string');
  });

  it('one junk budget key among three: the loop success gauge still moves, the write failure is counted', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock, { BUDGET_UNIVERSE: 'BTCUSDT,ETHUSDT,SOLUSDT' });
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await r.set(Keys.budget('SOLUSDT'), 'junk');
    clock.advance(10_000);
    await putState(clock);
    const failsBefore = await metric(a.metrics.redisWriteFail);
    expect(await a.scheduler.runOnce()).toMatchObject({ led: true, result: { written: 2, success: true } });
    expect(await metric(a.metrics.loopLastSuccess)).toBe(nowSec(clock));
    expect(await metric(a.metrics.redisWriteFail)).toBeGreaterThan(failsBefore);
  });

  it('health uses the gate max age when 3 intervals are longer: degraded when the gate would say stale_budget', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock, { BUDGET_COMPUTE_INTERVAL_SEC: '60' });
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await putState(clock);
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });
    expect(await a.scheduler.runOnce()).toMatchObject({ led: true, result: { written: 1 } });
    clock.advance(90_000);
    expect(
      a.t.logs.some((l) => l.level === 'warn' && String(l.msg).includes('GATE_BUDGET_MAX_AGE_SEC')),
    ).toBe(true);
    const g = await request(a.t.http)
      .post('/governor/evaluate')
      .send({ plan_id: 'p1', symbol: 'ETHUSDT', side: 'BUY', qty: 1, projected_notional: 1e6 });
    expect(g.body.reason).toBe('stale_budget');
    const h = await request(a.t.http).get('/health').expect(200);
    expect(h.body.status).toBe('degraded');
    await request(a.t.http).get('/health/ready').expect(503);
  });

  it("budget hashes carry the reference price: the position's (flat keys too), else the market state's", async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock, { BUDGET_UNIVERSE: 'ADAUSDT' });
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await putState(clock);
    const now = String(nowSec(clock));
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '60000' });
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '0', side: 'FLAT', entry_price: '3000' });
    await r.hset(Keys.marketState('ETHUSDT'), { sigma: '0.01', ts_timestamp: now, price: '2990' });
    await r.hset(Keys.marketState('SOLUSDT'), { sigma: '0.01', ts_timestamp: now, mark_price: '150.5' });
    expect(await a.scheduler.runOnce()).toMatchObject({
      led: true,
      result: { symbols: ['ADAUSDT', 'BTCUSDT', 'ETHUSDT', 'SOLUSDT'], written: 4 },
    });
    expect(await r.hget(Keys.budget('BTCUSDT'), 'price')).toBe('60000');
    expect(await r.hget(Keys.budget('ETHUSDT'), 'price')).toBe('3000');
    expect(await r.hget(Keys.budget('SOLUSDT'), 'price')).toBe('150.5');
    // no price known: the field is empty, never a stale price from an earlier tick
    expect(await r.hget(Keys.budget('ADAUSDT'), 'price')).toBe('');
  });

  it('only live market states join the universe; one without a timestamp joins and is counted', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock);
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await putState(clock);
    const now = nowSec(clock);
    await r.hset(Keys.marketState('ETHUSDT'), { sigma: '0.01', ts_timestamp: String(now - 600) });
    await r.hset(Keys.marketState('SOLUSDT'), { sigma: '0.01', ts_timestamp: String(now) });
    await r.hset(Keys.marketState('XRPUSDT'), { sigma: '0.01' });
    // a stale market state still serves as vol source rule for a real position (§1), not the universe
    const volBefore = await metric(a.metrics.staleInput, { input_type: 'vol' });
    const res = await a.scheduler.runOnce();
    expect(res).toMatchObject({ led: true, result: { symbols: ['SOLUSDT', 'XRPUSDT'], written: 2 } });
    expect(await r.exists(Keys.budget('ETHUSDT'))).toBe(0);
    expect(await metric(a.metrics.staleInput, { input_type: 'vol' })).toBeGreaterThanOrEqual(volBefore + 2);
  });

  it('POST /budget/check fails open on a budget older than GATE_BUDGET_MAX_AGE_SEC', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock, { BUDGET_UNIVERSE: 'ETHUSDT' });
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await putState(clock);
    expect(await a.scheduler.runOnce()).toMatchObject({ led: true, result: { written: 1 } });
    const fresh = await request(a.t.http)
      .post('/budget/check?symbol=ETHUSDT&position_notional=1000000')
      .set(auth)
      .expect(200);
    expect(fresh.body.violation).toBe(true);
    clock.advance(61_000);
    const old = await request(a.t.http)
      .post('/budget/check?symbol=ETHUSDT&position_notional=1000000')
      .set(auth)
      .expect(200);
    expect(old.body).toMatchObject({ violation: false, reason: 'stale_budget_fail_open' });
  });
});
