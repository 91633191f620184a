import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../src/budget/budget.scheduler.js';
import { Clock, ManualClock } from '../../../src/platform/clock/clock.js';
import { LoopHeartbeat } from '../../../src/platform/observability/loop-heartbeat.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { LeaderService } from '../../../src/platform/redis/leader.service.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { metric } from '../../support/metrics.js';

const STREAM = 'quantum:stream:budget.violation';

describe('budget loop: scheduling and leadership', () => {
  let redis: TestRedis;
  let heat: HeatStub;
  let r: Redis;
  const apps: TestApp[] = [];

  async function boot(env: Record<string, string> = {}, clock?: Clock) {
    const t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        HEAT_GATE_METRICS_URL: heat.url,
        LEADER_LEASE_MS: '1500',
        ...env,
      },
      { clock },
    );
    apps.push(t);
    const scheduler = t.app.get(BudgetScheduler);
    await scheduler.settled();
    return { t, scheduler, leader: t.app.get(LeaderService), metrics: t.app.get(Metrics) };
  }

  /** One over-budget position and a state usable (fresh, then last-known-good) for the whole suite. */
  async function seed() {
    await r.hset('quantum:state:portfolio', {
      equity_usd: '100000',
      drawdown: '0',
      timestamp: String(Math.floor(Date.now() / 1000)), // stale after 30 s, then last-known-good for 15 min
    });
    await r.hset('quantum:state:positions:BTCUSDT', { position_amt: '1', side: 'LONG', mark_price: '50000' });
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0.1);
    r = redis.client();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await redis.flush();
  });
  afterAll(async () => {
    await heat?.close();
    await redis?.close();
  });

  it('two replicas on one Redis: one leads, one violation entry per tick; the other takes over on close and on abandon', async () => {
    const a = await boot();
    const b = await boot();
    await waitFor(() => a.leader.isLeader() !== b.leader.isLeader(), { what: 'exactly one leader' });
    await seed();
    const [first, second] = a.leader.isLeader() ? [a, b] : [b, a];

    const len0 = await r.xlen(STREAM);
    const runs = await Promise.all([first.scheduler.runOnce(), second.scheduler.runOnce()]);
    expect(runs.map((x) => x.led)).toEqual([true, false]);
    expect(await r.xlen(STREAM)).toBe(len0 + 1);
    // the follower beats too, so readiness sees its loop alive
    expect(second.t.app.get(LoopHeartbeat).lastBeatMs).toBeDefined();

    // leader shuts down cleanly: the lease is released and the other takes over
    await first.t.close();
    await waitFor(() => second.leader.isLeader(), { timeoutMs: 4000, what: 'takeover after close' });
    expect((await second.scheduler.runOnce()).led).toBe(true);
    expect(await r.xlen(STREAM)).toBe(len0 + 2);

    // leader stops renewing (a crash, as the others see it): a third replica takes over after the lease
    const c = await boot();
    expect(c.leader.isLeader()).toBe(false);
    second.leader.abandon();
    await waitFor(() => c.leader.isLeader(), { timeoutMs: 5000, what: 'takeover after abandon' });
    const after = await Promise.all([second.scheduler.runOnce(), c.scheduler.runOnce()]);
    expect(after.map((x) => x.led)).toEqual([false, true]);
    expect(await r.xlen(STREAM)).toBe(len0 + 3);
  });

  it('ticks by itself on its interval, never two at once, and beats the heartbeat', async () => {
    const { t, metrics } = await boot({ BUDGET_COMPUTE_INTERVAL_SEC: '0.2' });
    await seed();
    const engine = t.app.get(BudgetEngine);
    let running = 0;
    let maxRunning = 0;
    const original = engine.tick.bind(engine);
    engine.tick = async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      try {
        return await original();
      } finally {
        running -= 1;
      }
    };
    const computed0 = await metric(metrics.budgetComputed);
    await waitFor(async () => (await metric(metrics.budgetComputed)) >= computed0 + 3, {
      timeoutMs: 5000,
      what: 'three scheduled ticks',
    });
    expect(maxRunning).toBe(1);
    expect(await r.exists('quantum:portfolio:budget:BTCUSDT')).toBe(1);
    const hb = t.app.get(LoopHeartbeat);
    expect(hb.registered).toBe(true);
    expect(hb.isFresh(Date.now())).toBe(true);
  });

  it("a follower's startup wait for the lease is not counted as an overrun", async () => {
    const a = await boot();
    await waitFor(() => a.leader.isLeader(), { what: 'first replica leads' });
    const started = performance.now();
    const b = await boot({ BUDGET_COMPUTE_INTERVAL_SEC: '0.2' });
    expect(performance.now() - started).toBeGreaterThan(900); // settled() covered the ~1 s wait
    await new Promise((res) => setTimeout(res, 500)); // a few follower ticks
    expect(b.leader.isLeader()).toBe(false);
    expect(await metric(b.metrics.tickOverrun)).toBe(0);
  });

  it('a tick longer than the interval is counted as an overrun and logged', async () => {
    if (!redis.controllable) return; // cannot freeze an external Redis
    const { metrics, t } = await boot({
      BUDGET_COMPUTE_INTERVAL_SEC: '0.2',
      REDIS_COMMAND_TIMEOUT_MS: '3000',
    });
    await seed();
    const before = await metric(metrics.tickOverrun);
    redis.freeze();
    await new Promise((res) => setTimeout(res, 800));
    redis.thaw();
    await waitFor(async () => (await metric(metrics.tickOverrun)) > before, { what: 'an overrun' });
    expect(t.logs.some((l) => l.msg === 'budget tick took longer than the interval')).toBe(true);
  });

  it('shutdown waits for the tick in flight, which still completes its writes', async () => {
    // a hanging heat gate makes the tick last ~HEAT_TIMEOUT_MS
    const clock = new ManualClock(Date.now());
    const { t, scheduler, leader } = await boot({ HEAT_TIMEOUT_MS: '800' }, clock);
    await waitFor(() => leader.isLeader(), { what: 'leadership' });
    await seed();
    heat.hang(true);
    try {
      let done = false;
      const run = scheduler.runOnce().then((x) => {
        done = true;
        return x;
      });
      await new Promise((res) => setTimeout(res, 100));
      expect(done).toBe(false);
      await t.close();
      expect(done).toBe(true);
      const res = await run;
      expect(res.led && res.result.written).toBe(1);
      expect(await r.exists('quantum:portfolio:budget:BTCUSDT')).toBe(1);
    } finally {
      heat.hang(false);
    }
  });
});
