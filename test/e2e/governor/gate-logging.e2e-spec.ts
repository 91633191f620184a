import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const service = newToken();
const viewer = newToken();

async function metric(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await request(t.http).get('/metrics').expect(200)).text;
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(want ? `${name}{${want}} ` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Issue 11 item 2: nothing an outsider sends may drive log volume. */
describe('log volume an outsider cannot drive', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const longQuery = `?q=${'A'.repeat(15_000)}`;

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp({
      REDIS_URL: redis.url,
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      GATE_TIMEOUT_MS: '1000',
      OPS_API_TOKENS: [tokenEntry('governor', 'service', service), tokenEntry('v', 'viewer', viewer)].join(
        ',',
      ),
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await redis.flush();
  });

  it('200 refused tokens on the gate and on /ops write one line each, without the query string', async () => {
    const before = t.rawLogs().length;
    const gateBefore = await metric(t, 'p28_log_suppressed_total', { kind: 'gate_auth_refused' });
    const opsBefore = await metric(t, 'p28_log_suppressed_total', { kind: 'auth_refused' });
    for (let i = 0; i < 100; i++) {
      await request(t.http)
        .post(`/governor/evaluate${longQuery}`)
        .set('Authorization', `Bearer ${newToken()}`)
        .send({ plan_id: 'p', symbol: 'BTCUSDT' })
        .expect(401);
      await request(t.http)
        .get(`/ops/mode${longQuery}`)
        .set('Authorization', `Bearer ${newToken()}`)
        .expect(401);
    }
    const written = t.rawLogs().slice(before);
    // ~30 KB per line before: 200 lines, 3 MB
    expect(written.length).toBeLessThan(2_000);
    expect(written).not.toContain('AAAA');
    const lines = t.logs.filter((l) => /refused/.test(String(l.msg)));
    expect(lines.filter((l) => l.context === 'Gate')).toHaveLength(1);
    expect(lines.filter((l) => l.context === 'Auth')).toHaveLength(1);
    expect(lines.find((l) => l.context === 'Auth')).toMatchObject({ path: '/ops/mode' });
    expect(await metric(t, 'p28_log_suppressed_total', { kind: 'gate_auth_refused' })).toBe(gateBefore + 99);
    expect(await metric(t, 'p28_log_suppressed_total', { kind: 'auth_refused' })).toBe(opsBefore + 99);
  });

  it('in enforce, 100 BLOCKs write one line, with how many were held back', async () => {
    const now = Math.floor(Date.now() / 1000);
    await r.hset(Keys.mode, { mode: 'enforce', version: 1, changed_at: now, changed_by: 'test' });
    await r.hset(Keys.budget('BTCUSDT'), { budget_usd: 1500, timestamp: now });
    await r.hset(Keys.violation('BTCUSDT'), { timestamp: now + 20, symbol: 'BTCUSDT' });
    const before = await metric(t, 'p28_log_suppressed_total', { kind: 'plan_blocked' });
    for (let i = 0; i < 100; i++) {
      const res = await request(t.http)
        .post('/governor/evaluate')
        .set('Authorization', `Bearer ${service}`)
        .send({ plan_id: `b${i}`, symbol: 'BTCUSDT' })
        .expect(200);
      expect(res.body.decision).toBe('BLOCK');
    }
    const lines = t.logs.filter((l) => l.msg === 'plan blocked');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ plan_id: 'b0', symbol: 'BTCUSDT', reason: 'p28_budget_violation' });
    expect(await metric(t, 'p28_log_suppressed_total', { kind: 'plan_blocked' })).toBe(before + 99);
  });
});
