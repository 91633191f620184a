import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DECISION_FIELDS, parseDecision } from '../../../src/governor-gate/decision-entry.js';
import { DecisionLog } from '../../../src/governor-gate/decision-log.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Metrics } from '../../../src/platform/observability/metrics.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/** One decision's line, its values in DECISION_FIELDS order; only the plan id varies. */
const values = (planId: string): string =>
  JSON.stringify(
    DECISION_FIELDS.map((f) =>
      f === 'plan_id' ? planId : f === 'symbol' ? 'BTCUSDT' : f === 'decision' ? 'ALLOW' : '',
    ),
  );

async function failures(m: Metrics): Promise<number> {
  const got = await m.decisionLogFail.get();
  return got.values[0]?.value ?? 0;
}

/**
 * DecisionLog on its own against a real Redis (docs/contract.md §7): order and shape of the
 * entries, the length cap, the age cap by the injected clock, and a Redis that stops answering.
 */
describe('DecisionLog (quantum:p28:decisions)', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  let log: DecisionLog;
  let metrics: Metrics;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        P28_MODE: 'shadow',
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        DECISION_LOG_MAXLEN: '500',
        DECISION_LOG_MAX_AGE_SEC: '600',
      },
      { clock },
    );
    log = t.app.get(DecisionLog);
    metrics = t.app.get(Metrics);
  });
  afterAll(async () => {
    redis?.thaw();
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await log.flush();
    await r.del(Keys.decisions);
  });

  it('appends every decision once, in order, as one field `d` whose values read back', async () => {
    // more than one batch, and a batch cut at its maximum size
    for (let i = 0; i < 400; i++) log.append(values(`p-${i}`));
    await log.flush();
    const got = await r.xrange(Keys.decisions, '-', '+');
    expect(got).toHaveLength(400);
    expect(got.every(([, f]) => f.length === 2 && f[0] === 'd')).toBe(true);
    expect(got.map(([, f]) => parseDecision(f).plan_id)).toEqual(
      Array.from({ length: 400 }, (_, i) => `p-${i}`),
    );
    expect(parseDecision(got[0][1])).toMatchObject({ symbol: 'BTCUSDT', decision: 'ALLOW', qty: null });
  });

  it('keeps the stream near DECISION_LOG_MAXLEN', async () => {
    for (let i = 0; i < 3000; i++) log.append(values(`m-${i}`));
    await log.flush();
    const len = await r.xlen(Keys.decisions);
    // approximate trimming (MAXLEN ~) removes whole stream nodes: a little over the cap, never all
    expect(len).toBeGreaterThanOrEqual(500);
    expect(len).toBeLessThan(700);
    const [[, newest]] = await r.xrevrange(Keys.decisions, '+', '-', 'COUNT', 1);
    expect(parseDecision(newest).plan_id).toBe('m-2999');
  });

  it('brings a log far over the cap (a lowered DECISION_LOG_MAXLEN) back near it within two batches', async () => {
    const line = values('before');
    for (let i = 0; i < 50_000; i += 5000) {
      const p = r.pipeline();
      for (let j = 0; j < 5000; j++) p.xadd(Keys.decisions, '*', 'd', line);
      await p.exec();
    }
    for (let i = 0; i < 10; i++) log.append(values(`c-${i}`));
    await log.flush();
    // one XTRIM removes at most 10,000 entries (Redis's default LIMIT with ~); a batch runs a few
    const afterOne = await r.xlen(Keys.decisions);
    expect(afterOne).toBeLessThan(20_000);
    // and no more than a few per batch: one script that trims millions holds every gate read
    expect(afterOne).toBeGreaterThan(9_000);
    log.append(values('c-10'));
    await log.flush();
    expect(await r.xlen(Keys.decisions)).toBeLessThan(700);
  });

  it('drops entries older than DECISION_LOG_MAX_AGE_SEC by the injected clock', async () => {
    for (let i = 0; i < 300; i++) log.append(values(`old-${i}`));
    await log.flush();
    expect(await r.xlen(Keys.decisions)).toBe(300);
    // the ids carry Redis's time, so the age limit is placed between the old entries and the new
    // one on that time line: our clock says DECISION_LOG_MAX_AGE_SEC have passed since `cut`
    await new Promise((res) => setTimeout(res, 50));
    const cut = Date.now() - 20;
    clock.set(cut + 600_000);
    log.append(values('new-0'));
    await log.flush();
    const got = await r.xrange(Keys.decisions, '-', '+');
    // MINID ~ keeps at most the stream node the new entry shares with old ones
    expect(got.length).toBeLessThan(50);
    expect(parseDecision(got[got.length - 1][1]).plan_id).toBe('new-0');
  });

  it('a frozen Redis neither blocks append nor grows memory without bound: the excess is counted', async () => {
    const before = await failures(metrics);
    redis.freeze();
    try {
      const started = performance.now();
      for (let i = 0; i < 25_000; i++) log.append(values(`f-${i}`));
      // handing over never waits on Redis
      expect(performance.now() - started).toBeLessThan(2000);
      // past the pending cap (20,000) new entries are counted as lost, not held
      expect((await failures(metrics)) - before).toBeGreaterThanOrEqual(5000 - 256);
    } finally {
      redis.thaw();
    }
    await waitFor(async () => (await r.xlen(Keys.decisions)) > 0, {
      timeoutMs: 10_000,
      what: 'the held entries written',
    });
    await log.flush();
    const written = await r.xlen(Keys.decisions);
    const lost = (await failures(metrics)) - before;
    // every decision is either in the stream (trimmed to the cap) or counted; nothing thrown
    expect(lost).toBeGreaterThan(0);
    expect(written).toBeGreaterThan(0);
  });
});
