import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/platform/clock/clock.js';
import { LeaderService } from '../../../../src/platform/redis/leader.service.js';
import { Keys } from '../../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../../src/platform/auth/token-entries.js';
import { ModeExpiryService } from '../../../../src/ops/mode/mode-expiry.service.js';
import { createTestApp, waitFor, type TestApp } from '../../../support/app.js';
import { startTestRedis, type TestRedis } from '../../../support/redis-server.js';

describe('ops: an expiring enforce reverts to shadow by itself', () => {
  let redis: TestRedis;
  const apps: TestApp[] = [];
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  const boot = async (clock: ManualClock) => {
    const t = await createTestApp(
      { REDIS_URL: redis.url, P28_MODE: 'shadow', OPS_API_TOKENS: tokenEntry('alice', 'operator', op) },
      { clock },
    );
    apps.push(t);
    await waitFor(() => t.app.get(LeaderService).isLeader(), { what: 'leadership' });
    return t;
  };
  const latest = async (t: TestApp) =>
    (await request(t.http).get('/ops/ledger?limit=1').set(auth).expect(200)).body.entries[0];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
    await redis.flush();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('reverts at expires_at with an auto-revert entry by "system", not a second earlier', async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T12:00:00Z'));
    const t = await boot(clock);
    const res = await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'one minute trial', expires_in_sec: 60 })
      .expect(200);
    const expiresAt = clock.nowSec() + 60;
    expect(res.body).toMatchObject({ mode: 'enforce', version: 1, expires_at: expiresAt });
    expect(await redis.client().hget(Keys.mode, 'expires_at')).toBe(String(expiresAt));
    expect((await request(t.http).get('/ops/mode').set(auth)).body.expires_at).toBe(expiresAt);

    const expiry = t.app.get(ModeExpiryService);
    clock.advance(59_000);
    expect(await expiry.check()).toBe(false);
    expect((await request(t.http).get('/ops/mode').set(auth)).body.mode).toBe('enforce');

    clock.advance(1_000);
    await waitFor(async () => (await request(t.http).get('/ops/mode').set(auth)).body.mode === 'shadow', {
      what: 'auto-revert',
    });
    const entry = await latest(t);
    expect(entry).toMatchObject({
      operation_name: 'auto-revert',
      actor: 'system',
      scope: 'global',
      from_mode: 'enforce',
      to_mode: 'shadow',
      risk_class: 'low',
      version: 2,
      timestamp: expiresAt,
      prev_hash: (await request(t.http).get('/ops/ledger').set(auth)).body.entries[1].hash,
    });
    expect(entry.reason).toContain('2025-06-01T12:01:00.000Z');
    expect(await redis.client().hget(Keys.mode, 'expires_at')).toBeNull();
    await request(t.http)
      .get('/ops/ledger/verify')
      .set(auth)
      .expect(200, { ok: true, entries: 2, signed: true, breaks: [] });
    // exactly one revert, however many checks run afterwards
    expect(await expiry.check()).toBe(false);
    expect(await redis.client().xlen(Keys.ledger)).toBe(2);
  });

  it('a plain enforce (or shadow) set after an expiring one cancels the expiry', async () => {
    const clock = new ManualClock(Date.parse('2025-06-02T08:00:00Z'));
    const t = await boot(clock);
    await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'trial', expires_in_sec: 30 })
      .expect(200);
    const plain = await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'keep it on' })
      .expect(200);
    expect(plain.body.expires_at).toBeUndefined();
    clock.advance(3_600_000);
    expect(await t.app.get(ModeExpiryService).check()).toBe(false);
    expect((await request(t.http).get('/ops/mode').set(auth)).body).toMatchObject({
      mode: 'enforce',
      version: 2,
    });
  });

  it('the expiry survives a restart of the service: the new instance reverts at expires_at', async () => {
    const clock = new ManualClock(Date.parse('2025-06-03T23:59:00Z'));
    const first = await boot(clock);
    await request(first.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'over midnight', expires_in_sec: 120 })
      .expect(200);
    await first.close();

    clock.advance(30_000);
    const second = await boot(clock);
    const view = (await request(second.http).get('/ops/mode').set(auth)).body;
    expect(view).toMatchObject({ mode: 'enforce', expires_at: Date.parse('2025-06-04T00:01:00Z') / 1000 });

    clock.advance(90_000);
    await waitFor(
      async () => (await request(second.http).get('/ops/mode').set(auth)).body.mode === 'shadow',
      {
        what: 'auto-revert after restart',
      },
    );
    const entry = await latest(second);
    // the revert happens on the new UTC day, so it opens that day's sequence
    expect(entry).toMatchObject({
      operation_name: 'auto-revert',
      actor: 'system',
      operation_id: 'OPS-2025-06-04-001',
    });
    await request(second.http)
      .get('/ops/ledger/verify')
      .set(auth)
      .expect(200, { ok: true, entries: 2, signed: true, breaks: [] });
  });
});
