import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { LeaderService } from '../../../src/platform/redis/leader.service.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { freePort, startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { metric } from '../../support/metrics.js';

/**
 * /health and /health/ready tell the truth about enforcement (CONTRACT.md §5): degraded, and not
 * ready, when no budget was written successfully within 3 intervals while symbols are budgeted;
 * a follower is judged by the leader's writes, not by its own (it computes nothing).
 */
const INTERVAL_SEC = 60;

describe('budget health and readiness against a real Redis', () => {
  let redis: TestRedis;
  let r: Redis;
  let heatUrl: string;
  const apps: TestApp[] = [];

  async function boot(clock: ManualClock, env: Record<string, string> = {}) {
    const t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: String(INTERVAL_SEC),
        // the gate trusts a budget for 3 intervals, so health and the gate agree on "enforcing"
        GATE_BUDGET_MAX_AGE_SEC: String(3 * INTERVAL_SEC),
        HEAT_GATE_METRICS_URL: heatUrl,
        P28_MODE: 'enforce',
        ...env,
      },
      { clock },
    );
    apps.push(t);
    const scheduler = t.app.get(BudgetScheduler);
    await scheduler.settled();
    return { t, scheduler, leader: t.app.get(LeaderService), metrics: t.app.get(Metrics) };
  }
  const putState = (clock: ManualClock) =>
    r.hset(Keys.portfolioState, {
      equity_usd: '100000',
      drawdown: '0',
      timestamp: String(Math.floor(clock.nowMs() / 1000)),
    });

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

  it('enforce with the portfolio state too old: degraded naming the cause, not ready, both ages reported, the tick counted failed', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock);
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    await putState(clock);
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '50000' });
    expect(await a.scheduler.runOnce()).toMatchObject({
      led: true,
      result: { outcome: 'written', written: 1 },
    });
    const ok = await request(a.t.http).get('/health').expect(200);
    expect(ok.body).toMatchObject({ status: 'healthy', budget_last_success_age_sec: 0 });
    await request(a.t.http).get('/health/ready').expect(200);

    // the publisher stops: 16 minutes later even the cached state is too old, nothing is written
    clock.advance(16 * 60_000);
    const failedBefore = await metric(a.metrics.tickFailed);
    expect(await a.scheduler.runOnce()).toMatchObject({ led: true, result: { outcome: 'too_old' } });
    expect(await metric(a.metrics.tickFailed)).toBe(failedBefore + 1);

    const h = await request(a.t.http).get('/health').expect(200);
    expect(h.body.status).toBe('degraded');
    expect(h.body.degraded).toEqual([expect.stringMatching(/^budget_engine: no successful budget write/)]);
    expect(h.body.budget_loop_last_run_age_sec).toBe(0);
    expect(h.body.budget_last_success_age_sec).toBe(960);
    const ready = await request(a.t.http).get('/health/ready').expect(503);
    expect(ready.body.error.budget_loop).toMatchObject({ status: 'down', last_run_age_ms: 0 });
    expect(ready.body.error.budget_loop.last_success_age_ms).toBe(960_000);

    // the state is back: healthy and ready again at the next tick
    await putState(clock);
    await a.scheduler.runOnce();
    expect((await request(a.t.http).get('/health').expect(200)).body.status).toBe('healthy');
    await request(a.t.http).get('/health/ready').expect(200);
  });

  it('a tick with no symbols budgeted is not a failure: no state, no positions, still healthy and ready', async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock);
    await waitFor(() => a.leader.isLeader(), { what: 'leadership' });
    const failedBefore = await metric(a.metrics.tickFailed);
    expect(await a.scheduler.runOnce()).toMatchObject({ led: true, result: { outcome: 'missing_state' } });
    expect(await metric(a.metrics.tickFailed)).toBe(failedBefore);
    expect((await request(a.t.http).get('/health').expect(200)).body.status).toBe('healthy');
    await request(a.t.http).get('/health/ready').expect(200);
  });

  it("a follower is ready while the leader writes, and degraded and not ready when the leader's writes stop", async () => {
    const clock = new ManualClock(Date.now());
    const a = await boot(clock);
    const b = await boot(clock);
    await waitFor(() => a.leader.isLeader() !== b.leader.isLeader(), { what: 'exactly one leader' });
    const [leader, follower] = a.leader.isLeader() ? [a, b] : [b, a];
    await putState(clock);
    await r.hset(Keys.position('ETHUSDT'), { position_amt: '1', side: 'LONG', mark_price: '3000' });

    expect(await leader.scheduler.runOnce()).toMatchObject({ led: true });
    clock.advance(2 * INTERVAL_SEC * 1000);
    expect(await follower.scheduler.runOnce()).toEqual({ led: false });
    const fine = await request(follower.t.http).get('/health').expect(200);
    expect(fine.body).toMatchObject({ status: 'healthy', budget_last_success_age_sec: 2 * INTERVAL_SEC });
    await request(follower.t.http).get('/health/ready').expect(200);

    clock.advance(16 * 60_000);
    expect(await leader.scheduler.runOnce()).toMatchObject({ led: true, result: { outcome: 'too_old' } });
    await follower.scheduler.runOnce();
    const h = await request(follower.t.http).get('/health').expect(200);
    expect(h.body.status).toBe('degraded');
    expect(h.body.degraded).toEqual([expect.stringMatching(/^budget_engine: no successful budget write/)]);
    await request(follower.t.http).get('/health/ready').expect(503);
  });
});
