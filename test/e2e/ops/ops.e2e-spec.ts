import { hostname } from 'node:os';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Keys } from '../../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { GENESIS_HASH, utcDay } from '../../../src/core/ledger/ledger-entry.js';
import { ModeReader } from '../../../src/platform/mode/mode-reader.js';
import { ModeCache } from '../../../src/ops/mode/mode-cache.js';
import { ModeRepository } from '../../../src/ops/mode/mode.repository.js';
import { formatOperationId, sealEntry } from '../../../src/core/ledger/ledger-entry.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { CONTRACT_LEDGER_FIELDS } from '../../support/contract.js';

// every §4 field but rollback_of, which only rollbacks carry, plus the signature (signing is on)
const LEDGER_FIELDS = [...CONTRACT_LEDGER_FIELDS.filter((f) => f !== 'rollback_of'), 'signer', 'signature'];

describe('ops: mode changes, auth and the audit ledger', () => {
  let redis: TestRedis;
  let t: TestApp;
  const tokens = { alice: newToken(), bob: newToken(), carol: newToken(), vic: newToken() };
  const env = () => ({
    REDIS_URL: redis.url,
    P28_MODE: 'shadow',
    GIT_COMMIT: 'e2e-commit-1',
    OPS_API_TOKENS: [
      tokenEntry('alice', 'operator', tokens.alice),
      tokenEntry('bob', 'operator', tokens.bob),
      tokenEntry('carol', 'operator', tokens.carol),
      tokenEntry('vic', 'viewer', tokens.vic),
    ].join(','),
  });
  const as = (who: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[who]}` });
  const put = (who: keyof typeof tokens, body: unknown) =>
    request(t.http)
      .put('/ops/mode')
      .set(as(who))
      .send(body as object);
  const ledger = async () =>
    (await request(t.http).get('/ops/ledger?limit=1000').set(as('vic')).expect(200)).body.entries;
  const stored = async () => ({
    mode: await redis.client().hgetall(Keys.mode),
    overrides: await redis.client().hgetall(Keys.modeOverrides),
    ledger: await redis.client().xlen(Keys.ledger),
  });
  const version = async () =>
    (await request(t.http).get('/ops/mode').set(as('vic')).expect(200)).body.version as number;

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp(env());
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    await redis.flush();
    await t.app.get(ModeCache).refresh();
  });

  it('refuses a PUT without a token (401), with an unknown one (401) and from a viewer (403), writing nothing', async () => {
    const before = await stored();
    expect(before.mode).toMatchObject({ mode: 'shadow', version: '0' });

    const none = await request(t.http).put('/ops/mode').send({ mode: 'enforce', reason: 'no token' });
    expect(none.status).toBe(401);
    expect(none.body.message).toMatch(/missing bearer token/);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);

    const unknown = await request(t.http)
      .put('/ops/mode')
      .set({ authorization: `Bearer ${newToken()}` })
      .send({ mode: 'enforce', reason: 'bad token' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.message).toMatch(/unknown token/);

    const viewer = await put('vic', { mode: 'enforce', reason: 'viewer tries' });
    expect(viewer.status).toBe(403);
    expect(viewer.body.message).toMatch(/role "operator" required.*"vic".*"viewer"/);

    await request(t.http).post('/ops/rollback').send({ reason: 'no token' }).expect(401);
    await request(t.http).post('/ops/rollback').set(as('vic')).send({ reason: 'viewer' }).expect(403);
    await request(t.http).get('/ops/mode').expect(401);
    await request(t.http).get('/ops/ledger').expect(401);
    expect(await stored()).toEqual(before);
    expect(t.app.get(ModeReader).current().mode).toBe('shadow');
  });

  it('an operator change writes the mode and one ledger entry with every field of §4, and the chain verifies', async () => {
    const started = Math.floor(Date.now() / 1000);
    const res = await put('alice', {
      mode: 'enforce',
      reason: 'budget rules reviewed',
      expected_version: 0,
    }).expect(200);
    const day = utcDay(Date.now());
    expect(res.body).toEqual({ mode: 'enforce', version: 1, operation_id: `OPS-${day}-001` });

    const [entry] = await ledger();
    expect(Object.keys(entry).sort()).toEqual([...LEDGER_FIELDS].sort());
    expect(entry).toMatchObject({
      operation_id: `OPS-${day}-001`,
      operation_name: 'set-mode',
      actor: 'alice',
      scope: 'global',
      from_mode: 'shadow',
      to_mode: 'enforce',
      reason: 'budget rules reviewed',
      risk_class: 'high',
      outcome: 'applied',
      version: 1,
      git_commit: 'e2e-commit-1',
      hostname: hostname(),
      prev_hash: GENESIS_HASH,
    });
    expect(entry.timestamp).toBeGreaterThanOrEqual(started);
    expect(entry.timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);

    const s = await stored();
    expect(s.mode).toMatchObject({
      mode: 'enforce',
      version: '1',
      changed_by: 'alice',
      operation_id: entry.operation_id,
    });
    expect(s.mode.expires_at).toBeUndefined();

    const mode = await request(t.http).get('/ops/mode').set(as('vic')).expect(200);
    expect(mode.body).toMatchObject({ mode: 'enforce', version: 1, changed_by: 'alice', overrides: {} });
    expect(mode.body.changed_at).toBe(entry.timestamp);

    const second = await put('bob', { mode: 'shadow', reason: 'back to watching' }).expect(200);
    expect(second.body.operation_id).toBe(`OPS-${day}-002`);
    const entries = await ledger();
    expect(entries.map((e: { operation_id: string }) => e.operation_id)).toEqual([
      `OPS-${day}-002`,
      `OPS-${day}-001`,
    ]);
    expect(entries[0]).toMatchObject({
      prev_hash: entry.hash,
      risk_class: 'low',
      from_mode: 'enforce',
      actor: 'bob',
    });

    const verify = await request(t.http).get('/ops/ledger/verify').set(as('vic')).expect(200);
    expect(verify.body).toEqual({ ok: true, entries: 2, signed: true, breaks: [] });

    const metrics = (await request(t.http).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^p28_enforce_mode 0$/m);
    expect(metrics).toMatch(/^p28_mode_changes_total\{to="enforce"\} [1-9]/m);
  });

  it('compare-and-set: two operators with the same expected_version at once get one 200 and one 409', async () => {
    await put('alice', { mode: 'shadow', reason: 'start at version one' }).expect(200);
    const v = await version();
    const [a, b] = await Promise.all([
      put('alice', { mode: 'enforce', reason: 'alice enforces', expected_version: v }),
      put('bob', { mode: 'enforce', reason: 'bob enforces too', expected_version: v }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const lost = a.status === 409 ? a : b;
    expect(lost.body.current_version).toBe(v + 1);
    expect(lost.body.message).toMatch(/stale/);
    expect(await redis.client().xlen(Keys.ledger)).toBe(2);

    // a plainly stale version is refused before anything is written
    const stale = await put('carol', { mode: 'shadow', reason: 'from an old screen', expected_version: 0 });
    expect(stale.status).toBe(409);
    expect(stale.body.current_version).toBe(v + 1);
    expect((await stored()).ledger).toBe(2);
    expect((await stored()).mode.mode).toBe('enforce');
  });

  it('the change script itself refuses a stale version, a moved chain head or a wrong sequence, writing nothing', async () => {
    await put('alice', { mode: 'enforce', reason: 'version one' }).expect(200);
    const repo = t.app.get(ModeRepository);
    const day = utcDay(Date.now());
    const snap = await repo.readForChange(day);
    // the replica's ids continue past earlier tests' (Redis is flushed between them), so no fixed seq
    expect(snap.state.version).toBe(1);
    expect(snap.seq).toBeGreaterThanOrEqual(1);
    const write = (over: { version?: number; head?: string; seq?: number }) => {
      const seq = over.seq ?? snap.seq + 1;
      const version = (over.version ?? snap.state.version) + 1;
      const entry = sealEntry({
        operation_id: formatOperationId(day, seq),
        operation_name: 'set-mode',
        actor: 'alice',
        scope: 'global',
        from_mode: 'enforce',
        to_mode: 'shadow',
        reason: 'direct',
        risk_class: 'low',
        outcome: 'applied',
        version,
        git_commit: 'x',
        hostname: 'h',
        timestamp: 1,
        prev_hash: over.head ?? snap.head,
      });
      return repo.change({
        expectedVersion: over.version ?? snap.state.version,
        expectedHead: over.head ?? snap.head,
        seqKeyDay: day,
        seq,
        action: 'mode',
        mode: 'shadow',
        changedAt: 1,
        changedBy: 'alice',
        expiresAt: null,
        entry,
      });
    };
    const before = await stored();
    expect(await write({ version: 0 })).toEqual({ ok: false, conflict: 'STALE', found: '1' });
    expect(await write({ head: GENESIS_HASH })).toEqual({ ok: false, conflict: 'HEAD', found: snap.head });
    expect(await write({ seq: snap.seq })).toEqual({ ok: false, conflict: 'SEQ', found: String(snap.seq) });
    expect(await stored()).toEqual(before);
    expect(await write({})).toMatchObject({ ok: true });
    expect((await stored()).mode).toMatchObject({ mode: 'shadow', version: '2' });
  });

  it('per-symbol overrides: set (symbol upper-cased) and cleared with "mode": null, each with its entry', async () => {
    const set = await put('alice', {
      mode: 'enforce',
      symbol: 'btcusdt',
      reason: 'enforce one symbol first',
    }).expect(200);
    expect(set.body).toMatchObject({ mode: 'enforce', symbol: 'BTCUSDT', version: 1 });
    const reader = t.app.get(ModeReader);
    expect(reader.effectiveMode('BTCUSDT')).toBe('enforce');
    expect(reader.effectiveMode('ETHUSDT')).toBe('shadow');
    expect((await stored()).overrides).toEqual({ BTCUSDT: 'enforce' });
    const view = await request(t.http).get('/ops/mode').set(as('vic')).expect(200);
    expect(view.body).toMatchObject({ mode: 'shadow', version: 1, overrides: { BTCUSDT: 'enforce' } });

    const clear = await put('bob', { mode: null, symbol: 'BTCUSDT', reason: 'done with the trial' }).expect(
      200,
    );
    expect(clear.body).toMatchObject({ mode: 'shadow', symbol: 'BTCUSDT', version: 2 });
    expect((await stored()).overrides).toEqual({});
    const [cleared, setEntry] = await ledger();
    expect(setEntry).toMatchObject({
      operation_name: 'set-override',
      scope: 'BTCUSDT',
      from_mode: 'shadow',
      to_mode: 'enforce',
      risk_class: 'high',
    });
    expect(cleared).toMatchObject({
      operation_name: 'clear-override',
      scope: 'BTCUSDT',
      from_mode: 'enforce',
      to_mode: 'shadow',
    });
    expect(reader.effectiveMode('BTCUSDT')).toBe('shadow');
  });

  it('rollback: back to shadow in one call, overrides and expiry cleared, rollback_of the last enforce entry', async () => {
    const enforce = await put('alice', { mode: 'enforce', reason: 'go live', expires_in_sec: 3600 }).expect(
      200,
    );
    expect(enforce.body.expires_at).toBeGreaterThan(Date.now() / 1000);
    await put('alice', { mode: 'enforce', symbol: 'ETHUSDT', reason: 'also ETH' }).expect(200);
    await put('alice', { mode: 'shadow', symbol: 'SOLUSDT', reason: 'not SOL' }).expect(200);
    const ethEntry = (await ledger())[1];

    const rb = await request(t.http)
      .post('/ops/rollback')
      .set(as('bob'))
      .send({ reason: 'false positives spiking' })
      .expect(200);
    expect(rb.body).toMatchObject({ mode: 'shadow', version: 4 });
    expect(rb.body.expires_at).toBeUndefined();
    const s = await stored();
    expect(s.mode).toMatchObject({ mode: 'shadow', version: '4', changed_by: 'bob' });
    expect(s.mode.expires_at).toBeUndefined();
    expect(s.overrides).toEqual({});
    const [entry] = await ledger();
    expect(entry).toMatchObject({
      operation_name: 'rollback',
      actor: 'bob',
      scope: 'global',
      from_mode: 'enforce',
      to_mode: 'shadow',
      rollback_of: ethEntry.operation_id,
    });
    expect(ethEntry).toMatchObject({ scope: 'ETHUSDT', to_mode: 'enforce' });
    expect(t.app.get(ModeReader).current()).toMatchObject({ mode: 'shadow', overrides: new Map() });
    await request(t.http)
      .get('/ops/ledger/verify')
      .set(as('vic'))
      .expect(200, { ok: true, entries: 4, signed: true, breaks: [] });
  });

  it('rollback_of names the enforce in effect, never one already reverted', async () => {
    const rollback = () =>
      request(t.http).post('/ops/rollback').set(as('bob')).send({ reason: 'stand down' }).expect(200);
    await put('alice', { mode: 'enforce', reason: 'first try' }).expect(200);
    await put('alice', { mode: 'shadow', reason: 'reverted by hand' }).expect(200);
    // nothing to undo: answered, and nothing written
    const idle = await rollback();
    expect(idle.body).toMatchObject({ mode: 'shadow', unchanged: true });
    const [newest] = await ledger();
    expect(newest).toMatchObject({ operation_name: 'set-mode', reason: 'reverted by hand' });

    const again = await put('alice', { mode: 'enforce', reason: 'second try' }).expect(200);
    expect(again.body.operation_id).toMatch(/^OPS-\d{4}-\d{2}-\d{2}-\d{3}$/);
    // an override set to enforce and then back to shadow is not in effect either
    await put('alice', { mode: 'enforce', symbol: 'ETHUSDT', reason: 'ETH too' }).expect(200);
    await put('alice', { mode: 'shadow', symbol: 'ETHUSDT', reason: 'not ETH' }).expect(200);
    await rollback();
    const [live] = await ledger();
    expect(live).toMatchObject({ operation_name: 'rollback', from_mode: 'enforce' });
    expect(live.rollback_of).toBe(again.body.operation_id);
  });

  it('refuses bad bodies with a 400 naming the field, writing nothing', async () => {
    await put('alice', { mode: 'enforce', reason: 'baseline' }).expect(200);
    const before = await stored();
    const cases: Array<[unknown, string]> = [
      [{ mode: 'ENFORCE!', reason: 'shouting' }, 'mode'],
      [{ reason: 'no mode at all' }, 'mode'],
      [{ mode: null, reason: 'null needs a symbol' }, 'mode'],
      [{ mode: 'enforce', reason: '' }, 'reason'],
      [{ mode: 'enforce', reason: '   ' }, 'reason'],
      [{ mode: 'enforce' }, 'reason'],
      [{ mode: 'enforce', reason: 'x'.repeat(501) }, 'reason'],
      [{ mode: 'enforce', reason: 'bell \u0007 here' }, 'reason'],
      [{ mode: 'enforce', reason: 'negative expiry', expires_in_sec: -5 }, 'expires_in_sec'],
      [{ mode: 'enforce', reason: 'fractional expiry', expires_in_sec: 1.5 }, 'expires_in_sec'],
      [{ mode: 'enforce', reason: 'a year', expires_in_sec: 365 * 86400 }, 'expires_in_sec'],
      [{ mode: 'shadow', reason: 'expiring shadow', expires_in_sec: 60 }, 'expires_in_sec'],
      [
        { mode: 'enforce', symbol: 'BTCUSDT', reason: 'expiring override', expires_in_sec: 60 },
        'expires_in_sec',
      ],
      [{ mode: 'enforce', reason: 'text version', expected_version: 'one' }, 'expected_version'],
      [{ mode: 'enforce', reason: 'negative version', expected_version: -1 }, 'expected_version'],
      [{ mode: 'enforce', reason: 'bad symbol', symbol: 'BTC/USDT' }, 'symbol'],
      [{ mode: 'enforce', reason: 'unknown field', colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await put('carol', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.fields, JSON.stringify(body)).toContain(field);
      expect(
        res.body.message.some((m: string) => m.startsWith(`${field}: `)),
        JSON.stringify(res.body),
      ).toBe(true);
    }
    const notJson = await request(t.http)
      .put('/ops/mode')
      .set(as('carol'))
      .set('content-type', 'application/json')
      .send('{"mode": "enforce", "reason": ');
    expect(notJson.status).toBe(400);
    expect(JSON.stringify(notJson.body)).toMatch(/not valid JSON/);
    const text = await request(t.http)
      .put('/ops/mode')
      .set(as('carol'))
      .set('content-type', 'text/plain')
      .send('enforce please');
    expect(text.status).toBe(400);
    expect(text.body.fields).toEqual(['body']);
    const array = await request(t.http)
      .post('/ops/rollback')
      .set(as('carol'))
      .send([{ reason: 'in an array' }]);
    expect(array.status).toBe(400);
    expect(array.body.message[0]).toMatch(/^body: must be a JSON object/);
    const deep = await request(t.http)
      .post('/ops/rollback')
      .set(as('carol'))
      .set('content-type', 'application/json')
      .send(`{"reason": "deep", "x": ${'['.repeat(3000)}${']'.repeat(3000)}}`);
    expect(deep.status).toBe(400);
    expect(deep.body.message).toEqual(['body: nested deeper than 8 levels']);
    const shortReason = await request(t.http).post('/ops/rollback').set(as('carol')).send({ reason: 'no' });
    expect(shortReason.status).toBe(400);
    expect(shortReason.body.fields).toEqual(['reason']);

    expect(await stored()).toEqual(before);
  });

  it('GET /ops/ledger pages newest first with limit and before=operation_id, and names a bad parameter', async () => {
    for (let i = 0; i < 5; i++) {
      await put(i % 2 ? 'alice' : 'bob', { mode: i % 2 ? 'shadow' : 'enforce', reason: `step ${i}` }).expect(
        200,
      );
    }
    const all = await ledger();
    expect(all.map((e: { version: number }) => e.version)).toEqual([5, 4, 3, 2, 1]);
    const first = await request(t.http).get('/ops/ledger?limit=2').set(as('vic')).expect(200);
    expect(first.body.entries.map((e: { version: number }) => e.version)).toEqual([5, 4]);
    expect(first.body.next_before).toBe(all[1].operation_id);
    const second = await request(t.http)
      .get(`/ops/ledger?limit=2&before=${first.body.next_before}`)
      .set(as('vic'))
      .expect(200);
    expect(second.body.entries.map((e: { version: number }) => e.version)).toEqual([3, 2]);
    const last = await request(t.http)
      .get(`/ops/ledger?limit=2&before=${second.body.next_before}`)
      .set(as('vic'))
      .expect(200);
    expect(last.body.entries.map((e: { version: number }) => e.version)).toEqual([1]);
    expect(last.body.next_before).toBeUndefined();
    const dflt = await request(t.http).get('/ops/ledger').set(as('vic')).expect(200);
    expect(dflt.body.entries).toHaveLength(5);

    for (const [qs, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['before=yesterday', 'before'],
      ['before=OPS-1999-01-01-001', 'before'],
      ['sort=asc', 'sort'],
    ]) {
      const res = await request(t.http).get(`/ops/ledger?${qs}`).set(as('vic'));
      expect(res.status, qs).toBe(400);
      expect(res.body.fields, qs).toContain(field);
    }
  });

  it('verify names every entry that breaks the chain: altered, deleted, or a missing tail', async () => {
    for (const [who, mode] of [
      ['alice', 'enforce'],
      ['bob', 'shadow'],
      ['alice', 'enforce'],
      ['carol', 'shadow'],
    ] as const) {
      await put(who, { mode, reason: `${who} sets ${mode}` }).expect(200);
    }
    const c = redis.client();
    const verify = async () =>
      (await request(t.http).get('/ops/ledger/verify').set(as('vic')).expect(200)).body;
    expect(await verify()).toEqual({ ok: true, entries: 4, signed: true, breaks: [] });
    const original = (await c.xrange(Keys.ledger, '-', '+')) as Array<[string, string[]]>;

    // Streams cannot edit an entry in place: rewrite the stream, same ids, one reason changed
    const rewrite = async (rows: Array<[string, string[]]>) => {
      await c.del(Keys.ledger);
      for (const [id, fields] of rows) await c.xadd(Keys.ledger, id, ...fields);
    };
    const tampered = original.map(([id, f], i): [string, string[]] => [
      id,
      i === 1 ? f.map((v, j) => (f[j - 1] === 'reason' ? 'nothing to see here' : v)) : f,
    ]);
    await rewrite(tampered);
    const altered = await verify();
    expect(altered.ok).toBe(false);
    expect(altered.breaks).toEqual([
      expect.objectContaining({
        index: 1,
        stream_id: original[1][0],
        operation_id: original[1][1][1],
        problem: 'hash_mismatch',
      }),
    ]);

    await rewrite(original);
    await c.xdel(Keys.ledger, original[2][0]);
    const deleted = await verify();
    expect(deleted.breaks.map((b: { index: number; problem: string }) => [b.index, b.problem])).toEqual([
      [2, 'prev_mismatch'],
      [2, 'version_gap'],
    ]);
    expect(deleted.breaks[0].operation_id).toBe(original[3][1][1]);

    await rewrite(
      [original[0], original[2], original[1], original[3]].map(([, f], i) => [original[i][0], f]),
    );
    expect((await verify()).breaks[0]).toMatchObject({ index: 1, operation_id: original[2][1][1] });

    await rewrite(original.slice(0, 3));
    const tail = await verify();
    expect(tail.breaks).toEqual([
      expect.objectContaining({ problem: 'version_gap', operation_id: original[3][1][1] }),
    ]);
  });

  it('with Redis down a change answers 503 saying nothing was changed, and works again once Redis is back', async (ctx) => {
    if (!redis.controllable) ctx.skip();
    await redis.stop();
    try {
      const res = await put('alice', { mode: 'enforce', reason: 'while redis is down' });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ outcome: 'not_applied' });
      expect(res.body.message).toMatch(/nothing was changed/);
      const ledgerRes = await request(t.http).get('/ops/ledger').set(as('vic'));
      expect(ledgerRes.status).toBe(503);
      // the replica keeps serving its last known mode
      expect((await request(t.http).get('/ops/mode').set(as('vic'))).body.mode).toBe('shadow');
    } finally {
      await redis.start();
    }
    await waitFor(
      async () => (await put('alice', { mode: 'enforce', reason: 'redis is back' })).status === 200,
      {
        timeoutMs: 8000,
        what: 'a change to succeed after Redis is back',
      },
    );
    expect(await redis.client().xlen(Keys.ledger)).toBe(1);
  });

  it('tokens never reach the logs or the ledger; the actor name does', async () => {
    const stranger = newToken();
    await put('alice', { mode: 'enforce', reason: 'log check' }).expect(200);
    await request(t.http)
      .put('/ops/mode')
      .set({ authorization: `Bearer ${stranger}` })
      .send({ mode: 'shadow', reason: 'x' + 'y' })
      .expect(401);
    await put('vic', { mode: 'shadow', reason: 'viewer try' }).expect(403);
    await request(t.http).post('/ops/rollback').set(as('bob')).send({ reason: 'log check done' }).expect(200);
    const logs = t.rawLogs();
    const entries = JSON.stringify(await ledger());
    for (const secret of [...Object.values(tokens), stranger]) {
      expect(logs).not.toContain(secret);
      expect(entries).not.toContain(secret);
    }
    expect(t.logs.some((l) => l.actor === 'alice' && l.operation_name === 'set-mode')).toBe(true);
    expect(entries).toContain('"actor":"bob"');
  });
});

describe('ops write throttling', () => {
  let redis: TestRedis;
  let t: TestApp;
  const op = newToken();
  const other = newToken();

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      OPS_API_TOKENS: `${tokenEntry('alice', 'operator', op)},${tokenEntry('bob', 'operator', other)}`,
    });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('allows 30 writes per actor per minute, then 429; reads and other actors are not throttled', async () => {
    const auth = { authorization: `Bearer ${op}` };
    for (let i = 0; i < 30; i++) {
      // refused bodies still count: a guard runs before validation
      await request(t.http).put('/ops/mode').set(auth).send({ mode: 'nope', reason: 'spam' }).expect(400);
    }
    const limited = await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', reason: 'one more' });
    expect(limited.status).toBe(429);
    // the contract's error body, like every other refusal
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(JSON.stringify(limited.body)).toMatch(/at most 30 per minute/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // the emergency rollback is exempt: it must work however many writes came before
    const rollback = await request(t.http).post('/ops/rollback').set(auth).send({ reason: 'stand down' });
    expect(rollback.status).toBe(200);
    for (let i = 0; i < 40; i++) await request(t.http).get('/ops/mode').set(auth).expect(200);
    await request(t.http).get('/health').expect(200);
    await request(t.http)
      .put('/ops/mode')
      .set({ authorization: `Bearer ${other}` })
      .send({ mode: 'enforce', reason: 'bob is fine' })
      .expect(200);
    expect(await redis.client().xlen(Keys.ledger)).toBe(rollback.body.operation_id ? 2 : 1);
  });
});
