import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/platform/redis/keys.js';
import { newToken } from '../../src/platform/auth/token-entries.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

describe('auth: with OPS_API_TOKENS empty, protected endpoints refuse', () => {
  let redis: TestRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({ REDIS_URL: redis.url, OPS_API_TOKENS: '' });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('answers 401 naming the missing configuration on every ops endpoint, with or without a token, and writes nothing', async () => {
    const modeBefore = await redis.client().hgetall(Keys.mode);
    const calls = [
      () => request(t.http).get('/ops/mode'),
      () => request(t.http).get('/ops/ledger'),
      () => request(t.http).get('/ops/ledger/verify'),
      () => request(t.http).put('/ops/mode').send({ mode: 'enforce', reason: 'open by default?' }),
      () => request(t.http).post('/ops/rollback').send({ reason: 'open by default?' }),
      () => request(t.http).post('/ops/ledger/restore'),
    ];
    for (const call of calls) {
      for (const token of [undefined, newToken()]) {
        const req = call();
        if (token) req.set('authorization', `Bearer ${token}`);
        const res = await req;
        expect(res.status).toBe(401);
        expect(res.body.message).toMatch(/no API tokens are configured \(OPS_API_TOKENS is empty\)/);
      }
    }
    expect(await redis.client().xlen(Keys.ledger)).toBe(0);
    expect(await redis.client().hgetall(Keys.mode)).toEqual(modeBefore);
    // unprotected endpoints are unaffected
    await request(t.http).get('/health').expect(200);
  });
});
