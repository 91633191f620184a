import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PlanConsumer } from '../../../src/governor-gate/plan-consumer.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const nowSec = () => Math.floor(Date.now() / 1000);

/** Counts keys matching a pattern with SCAN (never KEYS). */
async function countKeys(r: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

describe('Gate 0 plan consumer (quantum:stream:apply.plan, group p28-gate)', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  let consumer: PlanConsumer;
  let autoStarted = false;

  /** BTCUSDT: fresh budget + violation (blocks in enforce); ETHUSDT: no budget (fail-open permit). */
  async function seed() {
    await r.hset(Keys.mode, { mode: 'enforce', version: 1, changed_at: nowSec(), changed_by: 'test' });
    await r.hset(Keys.budget('BTCUSDT'), { budget_usd: 1500, timestamp: nowSec() });
    // far enough ahead to stay "fresh" for the whole test however slow the machine is
    await r.hset(Keys.violation('BTCUSDT'), { timestamp: nowSec() + 25, symbol: 'BTCUSDT' });
  }

  /** n EXECUTE plans, alternating BTCUSDT (flat fields) and ETHUSDT (a JSON payload), plus SKIP noise. */
  async function publish(n: number, prefix: string, skips = 0) {
    const p = r.pipeline();
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${i}`;
      if (i % 2 === 0) {
        p.xadd(
          Keys.planStream,
          '*',
          'plan_id',
          id,
          'symbol',
          'BTCUSDT',
          'decision',
          'EXECUTE',
          'side',
          'BUY',
          'qty',
          '0.01',
        );
      } else {
        p.xadd(
          Keys.planStream,
          '*',
          'payload',
          JSON.stringify({ plan_id: id, symbol: 'ETHUSDT', decision: 'EXECUTE' }),
        );
      }
    }
    for (let i = 0; i < skips; i++) {
      p.xadd(Keys.planStream, '*', 'plan_id', `${prefix}-skip-${i}`, 'symbol', 'BTCUSDT', 'decision', 'SKIP');
    }
    await p.exec();
  }

  async function outcomes(prefix: string, n: number) {
    const p = r.pipeline();
    for (let i = 0; i < n; i++) {
      p.exists(Keys.permit(`${prefix}-${i}`));
      p.exists(Keys.block(`${prefix}-${i}`));
    }
    const res = (await p.exec()) ?? [];
    const perPlan: number[] = [];
    for (let i = 0; i < n; i++) perPlan.push(Number(res[2 * i][1]) + Number(res[2 * i + 1][1]));
    return perPlan;
  }

  async function eventPlanIds(): Promise<string[]> {
    const entries = await r.xrange(Keys.governorEvents, '-', '+');
    return entries.map(([, f]) => f[f.indexOf('plan_id') + 1]);
  }

  const pending = async () => ((await r.xpending(Keys.planStream, Keys.planConsumerGroup)) as [number])[0];

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    // a generous read bound: a burst of 1,000 plans on a loaded machine must not fail some open
    t = await createTestApp({
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      GATE_CONSUME_PLANS: '1',
      GATE_TIMEOUT_MS: '1000',
    });
    consumer = t.app.get(PlanConsumer);
    autoStarted = consumer.running;
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await consumer.stop();
    await redis.flush();
    await seed();
  });

  it('starts with GATE_CONSUME_PLANS=1; 1,000 plans give exactly 1,000 permit-or-block keys and events', async () => {
    expect(autoStarted).toBe(true);
    consumer.start();
    await waitFor(async () => (await r.exists(Keys.planStream)) === 1, { what: 'the group to be created' });
    await publish(1000, 'bulk', 50);
    await waitFor(async () => (await r.xlen(Keys.governorEvents)) >= 1000 && (await pending()) === 0, {
      timeoutMs: 20_000,
      what: '1,000 governor events',
    });
    expect(await outcomes('bulk', 1000)).toEqual(Array(1000).fill(1));
    expect(await countKeys(r, 'quantum:permit:p28:*')).toBe(500);
    expect(await countKeys(r, 'quantum:p28:block:*')).toBe(500);
    expect(await countKeys(r, 'quantum:governor:block:*')).toBe(0);
    const ids = await eventPlanIds();
    expect(ids.length).toBe(1000);
    expect(new Set(ids).size).toBe(1000);

    // the contract's record shapes and lifetimes
    const block = JSON.parse((await r.get(Keys.block('bulk-0'))) as string);
    expect(block).toEqual({
      reason: 'p28_budget_violation',
      timestamp: expect.any(Number),
      symbol: 'BTCUSDT',
    });
    const ttlBlock = await r.ttl(Keys.block('bulk-0'));
    expect(ttlBlock).toBeGreaterThan(3500);
    expect(ttlBlock).toBeLessThanOrEqual(3600);
    const permit = JSON.parse((await r.get(Keys.permit('bulk-1'))) as string);
    expect(permit).toEqual({
      granted: true,
      symbol: 'ETHUSDT',
      decision: 'EXECUTE',
      created_at: expect.any(Number),
      consumed: false,
    });
    const ttlPermit = await r.ttl(Keys.permit('bulk-1'));
    expect(ttlPermit).toBeGreaterThan(0);
    expect(ttlPermit).toBeLessThanOrEqual(60);
    const [[, ev]] = await r.xrevrange(Keys.governorEvents, '+', '-', 'COUNT', 1);
    const json = JSON.parse(ev[ev.indexOf('json') + 1]);
    expect(json).toMatchObject({
      event_type: 'p28.gate_decision',
      decision: expect.stringMatching(/^(ALLOW|BLOCK)$/),
    });

    // SKIP plans are acknowledged and leave nothing behind
    expect(await countKeys(r, '*skip*')).toBe(0);
    const metrics = (await request(t.http).get('/metrics')).text;
    expect(metrics).toMatch(/^p28_plans_consumed_total\{outcome="skipped"\} 50$/m);
    expect(metrics).toMatch(/^p28_plans_consumed_total\{outcome="block"\} 500$/m);

    // a replayed plan id creates neither a second key nor a second event
    await r.xadd(Keys.planStream, '*', 'plan_id', 'bulk-0', 'symbol', 'BTCUSDT', 'decision', 'EXECUTE');
    await waitFor(
      async () =>
        (await pending()) === 0 &&
        /outcome="duplicate"\} 1$/m.test((await request(t.http).get('/metrics')).text),
      {
        what: 'the duplicate to be acknowledged',
      },
    );
    expect(await r.xlen(Keys.governorEvents)).toBe(1000);

    // still a duplicate once its permit has expired or been consumed (the permit lives 60 s)
    await r.del(Keys.permit('bulk-1'), Keys.block('bulk-1'));
    await r.xadd(Keys.planStream, '*', 'plan_id', 'bulk-1', 'symbol', 'BTCUSDT', 'decision', 'EXECUTE');
    await waitFor(
      async () =>
        (await pending()) === 0 &&
        /outcome="duplicate"\} 2$/m.test((await request(t.http).get('/metrics')).text),
      { what: 'the republished plan to be acknowledged as a duplicate' },
    );
    expect(await r.exists(Keys.permit('bulk-1'), Keys.block('bulk-1'))).toBe(0);
    expect(await r.xlen(Keys.governorEvents)).toBe(1000);
    expect(await r.ttl(Keys.planSeen('bulk-1'))).toBeGreaterThan(86_000);
  });

  it('claims the pending entries of a consumer that died before acknowledging: one key and one event per plan', async () => {
    // the group exists before the plans (as in production); consumer A reads 300 and dies
    await r.xgroup('CREATE', Keys.planStream, Keys.planConsumerGroup, '$', 'MKSTREAM');
    await publish(1000, 'claim');
    const read = (await r.xreadgroup(
      'GROUP',
      Keys.planConsumerGroup,
      'dead-consumer-A',
      'COUNT',
      300,
      'STREAMS',
      Keys.planStream,
      '>',
    )) as [string, [string, string[]][]][];
    expect(read[0][1].length).toBe(300);
    expect(await pending()).toBe(300);

    consumer.start({ claimIdleMs: 300, claimEveryMs: 100, blockMs: 200 });
    await waitFor(async () => (await r.xlen(Keys.governorEvents)) >= 1000 && (await pending()) === 0, {
      timeoutMs: 20_000,
      what: 'every plan, claimed ones included, to be processed',
    });
    expect(await outcomes('claim', 1000)).toEqual(Array(1000).fill(1));
    const ids = await eventPlanIds();
    expect(ids.length).toBe(1000);
    expect(new Set(ids).size).toBe(1000);
    const consumers = (await r.xinfo('CONSUMERS', Keys.planStream, Keys.planConsumerGroup)) as unknown[][];
    const a = consumers.find((c) => c[1] === 'dead-consumer-A') as unknown[];
    expect(a[a.indexOf('pending') + 1]).toBe(0);
  });

  it('a plan claimed again after it was already processed (slow, not dead, consumer) adds nothing', async () => {
    consumer.start({ claimIdleMs: 200, claimEveryMs: 100, blockMs: 200 });
    await waitFor(async () => (await r.exists(Keys.planStream)) === 1, { what: 'the group' });
    await publish(10, 'twice');
    await waitFor(async () => (await r.xlen(Keys.governorEvents)) >= 10 && (await pending()) === 0, {
      what: 'first pass',
    });
    // simulate a second delivery of every entry (what a claim of a slow consumer's entries does)
    const entries = await r.xrange(Keys.planStream, '-', '+');
    await consumer.processBatch(entries);
    expect(await r.xlen(Keys.governorEvents)).toBe(10);
    expect(await outcomes('twice', 10)).toEqual(Array(10).fill(1));
  });

  it("writes its block record under quantum:p28:block:*, never the governor's key, and is not fooled by the governor's record", async () => {
    consumer.start({ blockMs: 200 });
    await waitFor(async () => (await r.exists(Keys.planStream)) === 1, { what: 'the group' });
    // the governor blocked gov-0 (BTCUSDT, over budget here too) and gov-1 (ETHUSDT, permitted here) first
    const governorRecord = JSON.stringify({ reason: 'governor_says_no', timestamp: nowSec() });
    await r.set('quantum:governor:block:gov-0', governorRecord, 'EX', 3600);
    await r.set('quantum:governor:block:gov-1', governorRecord, 'EX', 3600);
    const seeded = new Set(await r.keys('*'));
    await publish(2, 'gov');
    await publish(2, 'own');
    await waitFor(async () => (await r.xlen(Keys.governorEvents)) >= 4 && (await pending()) === 0, {
      what: 'four decisions',
    });
    expect(Keys.block('x')).toBe('quantum:p28:block:x');
    // our decision and event for each, the governor's record untouched
    expect(JSON.parse((await r.get('quantum:p28:block:gov-0')) as string)).toMatchObject({
      reason: 'p28_budget_violation',
      symbol: 'BTCUSDT',
    });
    expect(await r.exists(Keys.permit('gov-1'))).toBe(1);
    expect(await r.get('quantum:governor:block:gov-0')).toBe(governorRecord);
    expect(await r.get('quantum:governor:block:gov-1')).toBe(governorRecord);
    expect((await eventPlanIds()).sort()).toEqual(['gov-0', 'gov-1', 'own-0', 'own-1']);
    expect(await r.exists('quantum:governor:block:own-0', 'quantum:governor:block:own-1')).toBe(0);
    // every key written is in our namespace (docs/contract.md §3, and §4/§7 for the {p28:ops} slot the
    // mode and policy stores re-seed at any time), besides the plan stream we consume
    const written = (await r.keys('*')).filter((k) => !seeded.has(k) && k !== Keys.planStream);
    const ours = /^(quantum:p28:|quantum:\{p28:ops\}:|quantum:permit:p28:|quantum:stream:governor\.events$)/;
    expect(written.filter((k) => !ours.test(k))).toEqual([]);
    expect(written.length).toBeGreaterThanOrEqual(5);
  });

  it('stops promptly on shutdown while blocked in XREADGROUP', async () => {
    consumer.start({ blockMs: 5000 });
    await waitFor(async () => (await r.exists(Keys.planStream)) === 1, { what: 'the group' });
    await new Promise((resolve) => setTimeout(resolve, 100)); // now blocked in XREADGROUP
    const started = performance.now();
    await consumer.stop();
    const ms = performance.now() - started;
    expect(consumer.running).toBe(false);
    expect(ms).toBeLessThan(1000);
    // nothing is read once stopped
    await publish(2, 'after-stop');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await r.xlen(Keys.governorEvents)).toBe(0);
  });
});
