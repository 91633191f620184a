import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import { createTestApp, waitFor, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

describe('ops: two replicas share one mode', () => {
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    const env = {
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
    };
    a = await createTestApp(env);
    b = await createTestApp(env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.close();
  });

  /** ms until replica `t` shows `mode` on GET /ops/mode, /health and /metrics. */
  async function propagation(t: TestApp, mode: 'enforce' | 'shadow', since: number): Promise<number> {
    const gauge = mode === 'enforce' ? 1 : 0;
    await waitFor(
      async () => {
        const [m, h, x] = await Promise.all([
          request(t.http).get('/ops/mode').set(auth),
          request(t.http).get('/health'),
          request(t.http).get('/metrics'),
        ]);
        return (
          m.body.mode === mode &&
          h.body.mode === mode &&
          new RegExp(`^p28_enforce_mode ${gauge}$`, 'm').test(x.text)
        );
      },
      { timeoutMs: 3000, intervalMs: 10, what: `replica to show ${mode}` },
    );
    return performance.now() - since;
  }

  it('a change made on one replica shows on the other (mode, /health, /metrics) within 1 s', async () => {
    const samples: number[] = [];
    for (const mode of ['enforce', 'shadow', 'enforce'] as const) {
      const since = performance.now();
      await request(a.http)
        .put('/ops/mode')
        .set(auth)
        .send({ mode, reason: `propagate ${mode}` })
        .expect(200);
      samples.push(await propagation(b, mode, since));
    }
    console.log(`mode propagation A->B (ms): ${samples.map((s) => s.toFixed(1)).join(', ')}`);
    for (const s of samples) expect(s).toBeLessThan(1000);
    const [ma, mb] = await Promise.all([
      request(a.http).get('/ops/mode').set(auth),
      request(b.http).get('/ops/mode').set(auth),
    ]);
    expect(mb.body).toEqual(ma.body);
  });

  it('compare-and-set across replicas: the same expected_version on both at once gives one 200 and one 409', async () => {
    const xlen = await redis.client().xlen(Keys.ledger);
    for (let round = 0; round < 5; round++) {
      const v = (await request(a.http).get('/ops/mode').set(auth)).body.version;
      const mode = round % 2 ? 'shadow' : 'enforce';
      const res = await Promise.all(
        [a, b].map((t) =>
          request(t.http)
            .put('/ops/mode')
            .set(auth)
            .send({ mode, reason: `race ${round}`, expected_version: v }),
        ),
      );
      expect(res.map((r) => r.status).sort()).toEqual([200, 409]);
      await waitFor(async () => (await request(a.http).get('/ops/mode').set(auth)).body.version === v + 1);
    }
    expect(await redis.client().xlen(Keys.ledger)).toBe(xlen + 5);
    expect((await request(a.http).get('/ops/ledger/verify').set(auth)).body.ok).toBe(true);
  });

  it('the periodic re-read catches a change whose notification never came', async () => {
    const current = (await request(b.http).get('/ops/mode').set(auth)).body;
    const next = current.mode === 'enforce' ? 'shadow' : 'enforce';
    // written behind the service's back: no PUBLISH, so only the MODE_REFRESH_MS re-read can see it
    const since = performance.now();
    await redis.client().hset(Keys.mode, 'mode', next, 'version', String(current.version + 1));
    const ms = await propagation(b, next, since);
    console.log(`mode re-read without pub/sub (ms): ${ms.toFixed(1)}`);
    expect(ms).toBeLessThan(1000);
  });

  it('both replicas subscribe again after Redis restarts', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const subscribers = async () =>
      ((await redis.client().pubsub('NUMSUB', Keys.modeChannel)) as [string, number])[1];
    expect(await subscribers()).toBe(2);
    await redis.stop();
    await redis.start();
    await waitFor(async () => (await subscribers()) === 2, { timeoutMs: 8000, what: 'resubscribe' });
    for (const t of [a, b]) {
      await waitFor(async () => (await request(t.http).get('/health')).body.mode_sync?.subscribed === true, {
        timeoutMs: 8000,
        what: 'mode_sync.subscribed on /health',
      });
    }
    // with the mode hash gone, P28_MODE seeds it again and both replicas follow it
    await waitFor(async () => (await redis.client().hget(Keys.mode, 'mode')) === 'shadow');
    const since = performance.now();
    await request(a.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'after restart' })
      .expect(200);
    expect(await propagation(b, 'enforce', since)).toBeLessThan(1000);
  });
});
