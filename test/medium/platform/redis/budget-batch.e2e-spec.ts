import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Batch,
  RedisSession,
  SCRIPT_CHUNK,
  type WriteOutcome,
} from '../../../../src/platform/redis/batch.js';
import { BudgetEngine } from '../../../../src/budget/budget.engine.js';
import { BudgetScheduler } from '../../../../src/budget/budget.scheduler.js';
import { ManualClock } from '../../../../src/platform/clock/clock.js';
import { Keys } from '../../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../../support/app.js';
import { startHeatStub, type HeatStub } from '../../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../../support/redis-server.js';
import { startTopology, topologiesUnderTest, type TestTopology } from '../../../support/topology.js';

/** The same single-Redis session with scripts off: the cluster's way of sending a Batch. */
class PlainSession extends RedisSession {
  override get scripts(): boolean {
    return false;
  }
}

const FIELDS: readonly string[] = ['a', 'b', 'c'];
const WRONGTYPE = /WRONGTYPE/;

/**
 * A Batch folds hash reads and writes into Lua scripts on a single Redis / Sentinel (one script
 * per SCRIPT_CHUNK keys, values packed into one string) and sends plain commands on a cluster.
 * Whichever way it goes, every key must come out as its own HMGET / HSET + EXPIRE would.
 */
describe('Batch: scripts answer exactly what plain commands answer', () => {
  let redis: TestRedis;
  let r: Redis;

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterAll(async () => {
    await redis?.close();
  });

  /** More keys than two script chunks, with every shape a hash read can meet. */
  async function seedReads(): Promise<string[]> {
    const keys: string[] = [];
    const p = r.pipeline();
    for (let i = 0; i < 2 * SCRIPT_CHUNK + 7; i++) {
      const key = `t:read:${i}`;
      keys.push(key);
      if (i % 7 === 0) continue; // absent key: all nil
      if (i % 7 === 1) p.hset(key, { a: `${i}`, b: 'x', c: `${i * 2}` });
      if (i % 7 === 2) p.hset(key, { a: `${i}` }); // b and c nil
      if (i % 7 === 3) p.hset(key, { a: '', b: '', c: '' }); // empty strings, not nil
      if (i % 7 === 4) p.set(key, 'a string'); // WRONGTYPE for this key alone
      if (i % 7 === 5) p.hset(key, { a: 'ünïcödé ✓', b: 'with spaces and \n newline' });
      if (i % 7 === 6) p.hset(key, { c: 'c only' });
    }
    await p.exec();
    return keys;
  }

  async function readAll(session: RedisSession, keys: string[]) {
    const batch = new Batch();
    const getters = keys.map((k) => batch.hmget(k, FIELDS));
    await batch.run(session);
    return {
      trips: session.roundTrips,
      replies: getters.map((g) => {
        const [err, value] = g();
        return err ? { error: err.message } : { value };
      }),
    };
  }

  it('HMGET of thousands of keys: same values, nil kept apart from empty, WRONGTYPE per key, one round trip', async () => {
    const keys = await seedReads();
    const scripted = await readAll(new RedisSession(r, false), keys);
    const plain = await readAll(new PlainSession(r, false), keys);

    expect(scripted.replies).toEqual(plain.replies);
    expect(scripted.trips).toBe(1);
    expect(plain.trips).toBe(1);
    // the shapes really occurred, so the equality above covers them
    expect(scripted.replies[0]).toEqual({ value: [null, null, null] });
    expect(scripted.replies[2]).toEqual({ value: ['2', null, null] });
    expect(scripted.replies[3]).toEqual({ value: ['', '', ''] });
    expect(scripted.replies[4]).toEqual({ error: expect.stringMatching(WRONGTYPE) });
    expect(scripted.replies[5]).toEqual({ value: ['ünïcödé ✓', 'with spaces and \n newline', null] });
    const last = keys.length - 1 - ((keys.length - 1 - 1) % 7); // the last full hash, in the 3rd chunk
    expect(last).toBeGreaterThan(2 * SCRIPT_CHUNK);
    expect(scripted.replies[last]).toEqual({ value: [`${last}`, 'x', `${last * 2}`] });
  });

  it('a value holding a NUL byte is read back intact (its chunk falls back to one reply per value)', async () => {
    await r.hset('t:nul', { a: 'left\0right', c: '' });
    await r.hset('t:plain', { b: 'b' });
    const { replies } = await readAll(new RedisSession(r, false), ['t:nul', 't:plain', 't:none']);
    expect(replies).toEqual([
      { value: ['left\0right', null, ''] },
      { value: [null, 'b', null] },
      { value: [null, null, null] },
    ]);
  });

  async function writeAll(session: RedisSession, prefix: string, values: (i: number) => string[], n: number) {
    const batch = new Batch();
    const outcomes: Array<() => WriteOutcome> = [];
    for (let i = 0; i < n; i++) outcomes.push(batch.hsetExpire(`${prefix}:${i}`, FIELDS, values(i), 120));
    await batch.run(session);
    return { trips: session.roundTrips, outcomes: outcomes.map((o) => o()) };
  }

  async function stored(prefix: string, n: number) {
    const out: Array<{ hash: Record<string, string>; ttl: number }> = [];
    for (let i = 0; i < n; i++) {
      const key = `${prefix}:${i}`;
      const type = await r.type(key);
      out.push({ hash: type === 'hash' ? await r.hgetall(key) : {}, ttl: await r.ttl(key) });
    }
    return out;
  }

  it('HSET + EXPIRE of thousands of keys: same hashes and TTLs, a wrong-type key fails alone, one round trip', async () => {
    const n = SCRIPT_CHUNK + 3;
    const values = (i: number) => [`v${i}`, i % 3 === 0 ? '' : `${i / 7}`, 'ünï ✓'];
    for (const prefix of ['t:w:script', 't:w:plain']) await r.set(`${prefix}:5`, 'not a hash');

    const scripted = await writeAll(new RedisSession(r, false), 't:w:script', values, n);
    const plain = await writeAll(new PlainSession(r, false), 't:w:plain', values, n);

    expect(scripted.trips).toBe(1);
    expect(plain.trips).toBe(1);
    const simplify = (o: WriteOutcome) => ({ failed: o.failed, error: o.error?.message });
    expect(scripted.outcomes.map(simplify)).toEqual(plain.outcomes.map(simplify));
    // HSET failed on the string key; its EXPIRE ran (as in a pipeline)
    expect(scripted.outcomes[5]).toMatchObject({ failed: 1, error: expect.objectContaining({}) });
    expect(scripted.outcomes[5].error?.message).toMatch(WRONGTYPE);
    expect(scripted.outcomes.filter((o) => o.failed > 0)).toHaveLength(1);

    const a = await stored('t:w:script', n);
    const b = await stored('t:w:plain', n);
    expect(a.map((x) => x.hash)).toEqual(b.map((x) => x.hash));
    expect(a[SCRIPT_CHUNK + 2].hash).toEqual(
      Object.fromEntries(FIELDS.map((f, j) => [f, values(SCRIPT_CHUNK + 2)[j]])),
    );
    for (const { ttl } of [...a, ...b]) expect(ttl).toBeGreaterThan(100);
  });

  it('a value holding a NUL byte is written intact (its chunk falls back to one argument per value)', async () => {
    const { outcomes } = await writeAll(new RedisSession(r, false), 't:wn', (i) => [`x\0${i}`, '', 'z'], 3);
    expect(outcomes.every((o) => o.failed === 0)).toBe(true);
    expect(await r.hgetall('t:wn:2')).toEqual({ a: 'x\u00002', b: '', c: 'z' });
  });

  it('plain commands and grouped hashes in one batch keep their own replies', async () => {
    await r.hset('t:h', { a: '1' });
    await r.set('t:s', 'str');
    const batch = new Batch();
    const get = batch.add(['get', 't:s']);
    const read = batch.hmget('t:h', FIELDS);
    const write = batch.hsetExpire('t:new', FIELDS, ['1', '2', '3'], 60);
    const bad = batch.add(['hget', 't:s', 'a']);
    const session = new RedisSession(r, false);
    await batch.run(session);
    expect(get()).toEqual([null, 'str']);
    expect(read()).toEqual([null, ['1', null, null]]);
    expect(write()).toEqual({ failed: 0, error: null });
    expect(bad()[0]?.message).toMatch(WRONGTYPE);
    expect(session.roundTrips).toBe(1);
  });

  it('scripts go by SHA once loaded, and still run (once) after Redis forgot them', async () => {
    const calls = async () => {
      const info = await r.info('commandstats');
      const n = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return { eval: n('eval'), evalsha: n('evalsha') };
    };
    const session = new RedisSession(redis.client(), false);
    const write = async (value: string) => {
      const batch = new Batch();
      const w = batch.hsetExpire('t:sha', FIELDS, [value, value, value], 60);
      const read = batch.hmget('t:sha', FIELDS);
      await batch.run(session);
      return { written: w(), read: read() };
    };
    await write('0'); // the connection's first use of each script sends its body
    const before = await calls();
    expect(await write('1')).toMatchObject({ written: { failed: 0 } });
    const after = await calls();
    expect(after.eval - before.eval).toBe(0);
    expect(after.evalsha - before.evalsha).toBe(2);
    expect(await r.hgetall('t:sha')).toEqual({ a: '1', b: '1', c: '1' });

    await r.script('FLUSH'); // as after a Redis restart: NOSCRIPT, then the body again
    const flushed = await calls();
    expect((await write('2')).written).toEqual({ failed: 0, error: null });
    expect(await r.hgetall('t:sha')).toEqual({ a: '2', b: '2', c: '2' });
    expect(await r.ttl('t:sha')).toBeGreaterThan(0);
    const resent = await calls();
    expect(resent.eval - flushed.eval).toBe(2); // each script resent once, as EVAL
  });

  it('a batch that never reached Redis answers the transport error for every entry', async () => {
    const batch = new Batch();
    const read = batch.hmget('t:h', FIELDS);
    const write = batch.hsetExpire('t:x', FIELDS, ['1', '2', '3'], 60);
    batch.fail(new Error('connection reset'));
    expect(read()[0]?.message).toBe('connection reset');
    expect(write()).toMatchObject({ failed: 2, error: { message: 'connection reset' } });
  });
});

/**
 * The whole tick on each topology under test (P28_TEST_TOPOLOGY; `single` by default, CI runs
 * `all`): on a cluster the batch goes out as plain commands, since a script's keys must share one
 * slot there and per-symbol keys do not.
 */
describe.each(topologiesUnderTest())('budget tick on Redis %s', (kind) => {
  let topo: TestTopology;
  let heat: HeatStub;
  let t: TestApp;
  let r: Redis | Cluster;
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const N = 60;

  beforeAll(async () => {
    topo = await startTopology(kind);
    heat = await startHeatStub(0.25);
    r = topo.client();
    t = await createTestApp(
      { ...topo.env, BUDGET_COMPUTE_INTERVAL_SEC: '3600', HEAT_GATE_METRICS_URL: heat.url },
      { clock },
    );
    await t.app.get(BudgetScheduler).settled();
  });
  afterAll(async () => {
    await t?.close();
    await heat?.close();
    await topo?.close();
  });

  it('writes every budget from both position patterns and every vol source, in 3 round trips besides SCAN', async () => {
    const now = String(clock.nowSec());
    await r.hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0.01', timestamp: now });
    await r.hset(Keys.clusters, { majors: JSON.stringify(['S0USDT', 'S3USDT']) });
    await r.hset(Keys.clusterState('majors'), { stress: '0.5' });
    for (let i = 0; i < N; i++) {
      const s = `S${i}USDT`;
      await r.hset(i % 2 ? Keys.legacyPosition(s) : Keys.position(s), {
        position_amt: '2',
        side: 'LONG',
        mark_price: i % 10 === 0 ? '5000' : '100',
      });
      if (i % 3 === 0) await r.hset(Keys.marketState(s), { sigma: '0.025' }); // → 0.67
      if (i % 3 === 1) await r.hset(Keys.legacyMarketState(s), { vol_regime: 'EXTREME' }); // → 1.0
    }

    const res = await t.app.get(BudgetEngine).tick();
    expect(res).toMatchObject({ outcome: 'written', written: N, writeFailures: 0 });
    expect(res.roundTrips - res.scanRoundTrips).toBe(4); // 2 reads, the writes, the status
    expect(res.violations).toEqual(['S0USDT', 'S10USDT', 'S20USDT', 'S30USDT', 'S40USDT', 'S50USDT']);

    const budget = (s: string) => r.hgetall(Keys.budget(s));
    // stress = 0.4·0.25 + 0.4·cluster + 0.2·vol; budget = 100000 · 0.02 · (1 − stress)
    expect(await budget('S0USDT')).toMatchObject({
      cluster_stress: '0.5',
      vol_regime: '0.67',
      stress_factor: '0.434',
    });
    expect(await budget('S1USDT')).toMatchObject({
      cluster_stress: '0',
      vol_regime: '1',
      budget_usd: '1400',
    });
    expect(await budget('S2USDT')).toMatchObject({ vol_regime: '0.33', position_notional: '200' });
    expect(Number(await r.ttl(Keys.budget(`S${N - 1}USDT`)))).toBeGreaterThan(0);
    expect(await r.hgetall(Keys.violation('S10USDT'))).toMatchObject({
      symbol: 'S10USDT',
      position_notional: '10000',
    });
  });
});
