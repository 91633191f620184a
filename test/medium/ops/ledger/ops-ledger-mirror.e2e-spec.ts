import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Keys } from '../../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../../src/platform/auth/token-entries.js';
import { createTestApp, waitFor, type TestApp } from '../../../support/app.js';
import { startTestRedis, type TestRedis } from '../../../support/redis-server.js';

describe('ops: the LEDGER_FILE mirror survives a Redis that lost its data', () => {
  let redis: TestRedis;
  let dir: string;
  const apps: TestApp[] = [];
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  const boot = async (file: string, autoRestore = false) => {
    const t = await createTestApp({
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      LEDGER_FILE: file,
      // most cases here look at the manual flow; auto-restore has its own case
      LEDGER_AUTO_RESTORE: autoRestore ? '1' : '0',
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
    });
    apps.push(t);
    return t;
  };
  const fileEntries = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const redisEntries = async (t: TestApp) =>
    (
      (await request(t.http).get('/ops/ledger?limit=1000').set(auth).expect(200)).body.entries as unknown[]
    ).reverse();
  const change = (t: TestApp, body: object) =>
    request(t.http).put('/ops/mode').set(auth).send(body).expect(200);
  const verify = async (t: TestApp) =>
    (await request(t.http).get('/ops/ledger/verify').set(auth).expect(200)).body;
  const ledgerHealth = async (t: TestApp) => (await request(t.http).get('/health')).body.ledger;
  const restartRedis = async (t?: TestApp) => {
    await redis.stop();
    await redis.start();
    if (t) {
      await waitFor(async () => (await request(t.http).get('/health')).status === 200, {
        timeoutMs: 8000,
        what: 'redis reconnect',
      });
    }
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p28-ledger-'));
  });
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
    await redis.flush();
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('mirrors every entry; after a restart without persistence /health counts the missing ones and restore puts them back', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'nested', 'ledger.jsonl');
    const t = await boot(file);
    await change(t, { mode: 'enforce', reason: 'first' });
    await change(t, { mode: 'shadow', symbol: 'BTCUSDT', reason: 'second' });
    await change(t, { mode: 'enforce', symbol: 'ETHUSDT', reason: 'third' });
    const before = await redisEntries(t);
    expect(fileEntries(file)).toEqual(before);
    expect(await ledgerHealth(t)).toMatchObject({ status: 'in_sync', file_entries: 3, missing_in_redis: 0 });

    await restartRedis(t);
    expect(await redis.client().xlen(Keys.ledger)).toBe(0);
    expect(fileEntries(file)).toEqual(before);
    const health = await waitFor(
      async () => {
        const h = await ledgerHealth(t);
        return h.missing_in_redis === 3 ? h : undefined;
      },
      { what: 'missing entries on /health' },
    );
    expect(health).toMatchObject({ status: 'missing_in_redis', file_entries: 3 });
    expect((await request(t.http).get('/metrics')).text).toMatch(/^p28_ledger_missing_entries 3$/m);
    expect(t.logs.some((l) => l.msg === 'ledger mirror missing_in_redis' && l.missing_in_redis === 3)).toBe(
      true,
    );

    // two operators press restore at once: the entries go back exactly once
    const both = await Promise.all([1, 2].map(() => request(t.http).post('/ops/ledger/restore').set(auth)));
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    const restored = both.find((r) => r.body.restored > 0)!;
    expect(restored.body).toEqual({ restored: 3, state_restored: true, entries: 3, missing_in_redis: 0 });
    expect(both.map((r) => r.body.restored).sort()).toEqual([0, 3]);
    expect(await redisEntries(t)).toEqual(before);
    expect(await verify(t)).toEqual({ ok: true, entries: 3, signed: true, breaks: [] });
    await waitFor(async () => {
      const m = (await request(t.http).get('/ops/mode').set(auth)).body;
      return m.version === 3 && m.mode === 'enforce';
    });
    expect((await request(t.http).get('/ops/mode').set(auth)).body.overrides).toEqual({
      BTCUSDT: 'shadow',
      ETHUSDT: 'enforce',
    });
    expect(await ledgerHealth(t)).toMatchObject({ status: 'in_sync', missing_in_redis: 0 });
    expect((await request(t.http).get('/metrics')).text).toMatch(/^p28_ledger_missing_entries 0$/m);

    // idempotent: nothing left to restore
    const again = await request(t.http).post('/ops/ledger/restore').set(auth).expect(200);
    expect(again.body).toMatchObject({ restored: 0, state_restored: false });
    expect(await redis.client().xlen(Keys.ledger)).toBe(3);

    // the chain and the day's sequence carry on from the restored entries
    const next = await change(t, { mode: 'shadow', reason: 'fourth', expected_version: 3 });
    expect(next.body.operation_id).toMatch(/-004$/);
    expect(await verify(t)).toEqual({ ok: true, entries: 4, signed: true, breaks: [] });
    expect(fileEntries(file)).toEqual(await redisEntries(t));
  });

  it('notices the missing entries at startup: /health degraded, a change refused with 409 until restore', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'ledger.jsonl');
    const first = await boot(file);
    await change(first, { mode: 'enforce', reason: 'one' });
    await change(first, { mode: 'enforce', symbol: 'BTCUSDT', reason: 'two' });
    await first.close();
    await restartRedis();

    const t = await boot(file);
    expect(await ledgerHealth(t)).toMatchObject({ status: 'missing_in_redis', missing_in_redis: 2 });
    expect(t.logs.some((l) => l.msg === 'ledger mirror missing_in_redis')).toBe(true);
    const health = (await request(t.http).get('/health').expect(200)).body;
    expect(health.status).toBe('degraded');
    expect(health.degraded.join(' ')).toMatch(/ledger: 2 ledger entries .* missing in Redis/);
    // seeded from P28_MODE meanwhile: a change would also restore enforce as a side effect, so it is refused
    const refused = await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'shadow', reason: 'three' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/POST \/ops\/ledger\/restore/);
    expect(await redis.client().xlen(Keys.ledger)).toBe(0);

    await request(t.http).post('/ops/ledger/restore').set(auth).expect(200);
    await waitFor(async () => (await request(t.http).get('/ops/mode').set(auth)).body.version === 2);
    await change(t, { mode: 'shadow', reason: 'three', expected_version: 2 });
    expect(await verify(t)).toEqual({ ok: true, entries: 3, signed: true, breaks: [] });
    const entries = await redisEntries(t);
    expect(entries.map((e) => (e as { reason: string }).reason)).toEqual(['one', 'two', 'three']);
    expect(fileEntries(file)).toEqual(entries);
    expect((await request(t.http).get('/health').expect(200)).body.status).toBe('healthy');
  });

  it('with auto-restore, a restart of both Redis (no persistence) and the service brings enforce back by itself', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'ledger.jsonl');
    const first = await boot(file, true);
    await change(first, { mode: 'enforce', reason: 'one' });
    await change(first, { mode: 'enforce', symbol: 'BTCUSDT', reason: 'two' });
    await first.close();
    await restartRedis();

    const t = await boot(file, true);
    const mode = await waitFor(
      async () => {
        const m = (await request(t.http).get('/ops/mode').set(auth)).body;
        return m.version === 2 ? m : undefined;
      },
      { timeoutMs: 5000, what: 'enforce restored without an operator' },
    );
    expect(mode).toMatchObject({ mode: 'enforce', overrides: { BTCUSDT: 'enforce' } });
    expect(await verify(t)).toEqual({ ok: true, entries: 2, signed: true, breaks: [] });
    expect((await request(t.http).get('/health').expect(200)).body.status).toBe('healthy');
  });

  it('refuses to restore into a forked chain and says so on /health', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'ledger.jsonl');
    const first = await boot(file);
    await change(first, { mode: 'enforce', reason: 'one' });
    await change(first, { mode: 'shadow', reason: 'two' });
    await first.close();
    await restartRedis();
    // a replica without a mirror writes a new history into the empty Redis
    const other = await createTestApp({
      REDIS_URL: redis.url,
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
    });
    apps.push(other);
    await change(other, { mode: 'enforce', reason: 'new history' });

    const t = await boot(file);
    expect(await ledgerHealth(t)).toMatchObject({ status: 'forked', missing_in_redis: 2 });
    const res = await request(t.http).post('/ops/ledger/restore').set(auth).expect(409);
    expect(res.body.message).toMatch(/forked/);
    expect(await redis.client().xlen(Keys.ledger)).toBe(1);
    expect(fileEntries(file)).toHaveLength(2);
    expect(await verify(t)).toEqual({ ok: true, entries: 1, signed: true, breaks: [] });
  });

  it('a replica with its own file mirrors entries written by another replica', async () => {
    const a = await boot(join(dir, 'a.jsonl'));
    await change(a, { mode: 'enforce', reason: 'before b started' });
    const fileB = join(dir, 'b.jsonl');
    const b = await boot(fileB);
    await change(a, { mode: 'shadow', reason: 'after b started' });
    await waitFor(() => fileEntries(fileB).length === 2, { what: 'b to mirror a' });
    expect(fileEntries(fileB)).toEqual(await redisEntries(b));
    expect(fileEntries(join(dir, 'a.jsonl'))).toEqual(fileEntries(fileB));
  });

  it('with LEDGER_AUTO_RESTORE (the default) a Redis that lost the ledger gets it back by itself, mode included', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'ledger.jsonl');
    const t = await boot(file, true);
    await change(t, { mode: 'enforce', reason: 'first' });
    await change(t, { mode: 'shadow', symbol: 'BTCUSDT', reason: 'second' });
    const before = await redisEntries(t);

    await restartRedis(t);
    await waitFor(async () => (await redis.client().xlen(Keys.ledger)) === before.length, {
      timeoutMs: 5000,
      what: 'the ledger to be restored without an operator',
    });
    expect(await redisEntries(t)).toEqual(before);
    expect(await verify(t)).toMatchObject({ ok: true, entries: before.length });
    const mode = (await request(t.http).get('/ops/mode').set(auth).expect(200)).body;
    expect(mode).toMatchObject({ mode: 'enforce', version: 2, overrides: { BTCUSDT: 'shadow' } });
    expect(t.logs.some((l) => l.msg === 'ledger auto-restored from LEDGER_FILE')).toBe(true);
  });

  it('auto-restore brings back the expiry of a time-boxed enforce, so it still reverts', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const t = await boot(join(dir, 'ledger.jsonl'), true);
    const res = await change(t, { mode: 'enforce', reason: 'trial', expires_in_sec: 3600 });
    const expiresAt = res.body.expires_at as number;
    expect(expiresAt).toBeGreaterThan(Date.now() / 1000);

    await restartRedis(t);
    // judge Redis itself: the replica's cached view may still show the pre-restart state
    await waitFor(async () => (await redis.client().xlen(Keys.ledger)) === 1, {
      timeoutMs: 5000,
      what: 'the ledger restored from the mirror',
    });
    const stored = await redis.client().hgetall(Keys.mode);
    expect(stored).toMatchObject({ mode: 'enforce', version: '1', expires_at: String(expiresAt) });
    expect((await redisEntries(t)).at(-1)).toMatchObject({ expires_at: expiresAt });
    expect(await verify(t)).toMatchObject({ ok: true, entries: 1 });
  });

  it('auto-restore: a service that started while Redis was down restores once Redis is back', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    const file = join(dir, 'ledger.jsonl');
    const first = await boot(file, true);
    await change(first, { mode: 'enforce', reason: 'one' });
    await first.close();
    await redis.stop();
    const t = await boot(file, true);
    await redis.start();
    const mode = await waitFor(
      async () => {
        const m = (await request(t.http).get('/ops/mode').set(auth)).body;
        return m.version === 1 ? m : undefined;
      },
      { timeoutMs: 8000, what: 'the restore once Redis answered' },
    );
    expect(mode.mode).toBe('enforce');
    expect(await verify(t)).toEqual({ ok: true, entries: 1, signed: true, breaks: [] });
  }, 30_000);

  it('restore is refused without LEDGER_FILE', async () => {
    const t = await createTestApp({
      REDIS_URL: redis.url,
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
    });
    apps.push(t);
    const res = await request(t.http).post('/ops/ledger/restore').set(auth).expect(409);
    expect(res.body.message).toMatch(/LEDGER_FILE is not configured/);
    expect((await request(t.http).get('/health')).body.ledger).toEqual({ mirror: 'off', signed: true });
  });
});
