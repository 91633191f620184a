import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

describe('ops: policy entries in the LEDGER_FILE mirror restore the policy after Redis lost it', () => {
  let redis: TestRedis;
  let dir: string;
  let t: TestApp;
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), 'p28-policy-ledger-'));
    t = await createTestApp({
      REDIS_URL: redis.url,
      LEDGER_FILE: join(dir, 'ledger.jsonl'),
      LEDGER_AUTO_RESTORE: '0',
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const policy = async () => (await request(t.http).get('/ops/policy').set(auth).expect(200)).body;

  it('restore brings back the entries and the policy they imply; the chain verifies and continues', async () => {
    await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'mode first' })
      .expect(200);
    await request(t.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { base_risk_pct: 0.03 }, reason: 'one' })
      .expect(200);
    await request(t.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { min_budget_usd: 300 }, reason: 'two' })
      .expect(200);
    await redis.client().flushall();
    // the replica re-seeds from the environment meanwhile
    await waitFor(async () => (await redis.client().hget(Keys.policy, 'version')) === '0', {
      what: 'policy re-seeded',
    });
    const res = await request(t.http).post('/ops/ledger/restore').set(auth).expect(200);
    expect(res.body).toMatchObject({ restored: 3 });
    await waitFor(async () => (await policy()).version === 2, { what: 'policy version 2 restored' });
    expect((await policy()).policy).toMatchObject({ base_risk_pct: 0.03, min_budget_usd: 300 });
    await request(t.http)
      .put('/ops/policy')
      .set(auth)
      .send({ policy: { gamma_vol: 0.1 }, reason: 'three', expected_version: 2 })
      .expect(200);
    const verify = await request(t.http).get('/ops/ledger/verify').set(auth).expect(200);
    expect(verify.body).toMatchObject({ ok: true, entries: 4 });
  });
});
