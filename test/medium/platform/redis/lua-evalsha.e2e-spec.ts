import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenEntry } from '../../../../src/platform/auth/token-entries.js';
import { createTestApp, type TestApp } from '../../../support/app.js';
import { startTestRedis, type TestRedis } from '../../../support/redis-server.js';

/** calls of `cmd` in INFO commandstats (0 when never called). */
async function calls(redis: TestRedis, cmd: 'eval' | 'evalsha'): Promise<number> {
  const info = await redis.client().info('commandstats');
  const m = new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

describe('Lua scripts go by EVALSHA', () => {
  let redis: TestRedis;
  let app: TestApp;
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await createTestApp({ REDIS_URL: redis.url, OPS_API_TOKENS: tokenEntry('alice', 'operator', op) });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.close();
  });

  it('mode changes send the script body at most once per connection, then its SHA', async () => {
    await redis.client().config('RESETSTAT');
    for (const mode of ['enforce', 'shadow', 'enforce', 'shadow', 'enforce', 'shadow'] as const) {
      await request(app.http)
        .put('/ops/mode')
        .set(auth)
        .send({ mode, reason: `sha ${mode}` })
        .expect(200);
    }
    // the first change may go as EVAL (NOSCRIPT fallback); every later one is EVALSHA
    expect(await calls(redis, 'evalsha')).toBeGreaterThanOrEqual(5);
    expect(await calls(redis, 'eval')).toBeLessThanOrEqual(2);
  });
});
