import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Keys } from '../../src/platform/redis/keys.js';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import {
  formatOperationId,
  fromStreamFields,
  sealEntry,
  toJsonLine,
  toStreamFields,
  utcDay,
  type LedgerEntry,
} from '../../src/core/ledger/ledger-entry.js';
import { loadSigningKey, loadTrustedKeys, signHash } from '../../src/core/ledger/ledger-keys.js';
import { verifyCli } from '../../src/tools/ledger-verify.js';
import { keygen } from '../../src/tools/ledger-keygen.js';
import { startProcessApp } from '../support/process-app.js';
import {
  createTestApp,
  makeTestKeyPair,
  sharedTestKeyPair,
  waitFor,
  type TestApp,
  type TestKeyPair,
} from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

type Row = [string, string[]];

/** Issue 13: signed entries, every break reported, nothing unverifiable adopted or restored. */
describe('ops: the signed ledger', () => {
  let redis: TestRedis;
  let dir: string;
  const apps: TestApp[] = [];
  const op = newToken();
  const auth = { authorization: `Bearer ${op}` };

  const boot = async (env: Record<string, string> = {}) => {
    const t = await createTestApp({
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      LEDGER_AUTO_RESTORE: '1',
      OPS_API_TOKENS: tokenEntry('alice', 'operator', op),
      ...env,
    });
    apps.push(t);
    return t;
  };
  const keyEnv = (k: TestKeyPair, trusted = k.trustedKeysFile) => ({
    LEDGER_SIGNING_KEY_FILE: k.privateKeyFile,
    LEDGER_TRUSTED_KEYS_FILE: trusted,
  });
  const change = (t: TestApp, body: object) =>
    request(t.http).put('/ops/mode').set(auth).send(body).expect(200);
  const verify = async (t: TestApp) =>
    (await request(t.http).get('/ops/ledger/verify').set(auth).expect(200)).body;
  const fileLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const rows = async () => (await redis.client().xrange(Keys.ledger, '-', '+')) as Row[];
  const metric = async (t: TestApp, problem: string) => {
    const m = new RegExp(`^p28_ledger_rejected_entries_total\\{problem="${problem}"\\} (\\d+)$`, 'm').exec(
      (await request(t.http).get('/metrics')).text,
    );
    return m ? Number(m[1]) : 0;
  };

  /** An entry that chains onto the current head with a correct hash: what an attacker can write. */
  const forge = async (sign?: 'rogue' | 'wrong'): Promise<LedgerEntry> => {
    const all = await rows();
    const last = fromStreamFields(all.at(-1)![1]) as unknown as LedgerEntry;
    const day = utcDay(Date.now());
    const seq = Number(last.operation_id.slice(-3)) + 1;
    const rogue = sign === 'rogue' ? loadSigningKey('x', makeTestKeyPair().privateKeyFile) : undefined;
    const e = sealEntry({
      operation_id: formatOperationId(day, seq),
      operation_name: 'set-mode',
      actor: 'alice',
      scope: 'global',
      from_mode: 'shadow',
      to_mode: 'enforce',
      reason: 'forged',
      risk_class: 'high',
      outcome: 'applied',
      version: last.version + 1,
      git_commit: 'x',
      hostname: 'h',
      timestamp: Math.floor(Date.now() / 1000),
      prev_hash: last.hash,
      ...(sign === 'rogue' ? { signer: rogue!.signer } : {}),
      ...(sign === 'wrong' ? { signer: sharedTestKeyPair().signer } : {}),
    });
    if (sign === 'rogue') return { ...e, signature: signHash(e.hash, rogue!) };
    if (sign === 'wrong')
      return {
        ...e,
        signature: signHash('0'.repeat(64), loadSigningKey('x', sharedTestKeyPair().privateKeyFile)),
      };
    return e;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p28-signed-'));
  });
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
    await redis.flush();
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('signs every entry and logs the chain head (hash, signer, signature) at info after each change', async () => {
    const t = await boot();
    const res = await change(t, { mode: 'enforce', reason: 'signed one' });
    const [[, fields]] = await rows();
    const entry = fromStreamFields(fields);
    expect(entry.signer).toBe(sharedTestKeyPair().signer);
    expect(entry.signature).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    const head = t.logs.find((l) => l.msg === 'ledger head' && l.operation_id === res.body.operation_id);
    expect(head).toMatchObject({
      level: 'info',
      hash: entry.hash,
      signer: entry.signer,
      signature: entry.signature,
    });
    expect(await verify(t)).toEqual({ ok: true, entries: 1, signed: true, breaks: [] });
  });

  it('a forged entry with a correct chain but no or a wrong signature: verify names it, no replica mirrors it, restore refuses it, the mode is unchanged', async () => {
    const a = await boot({ LEDGER_FILE: join(dir, 'a.jsonl') });
    const b = await boot({ LEDGER_FILE: join(dir, 'b.jsonl') });
    await change(a, { mode: 'enforce', reason: 'real one' });
    await change(a, { mode: 'shadow', reason: 'real two' });
    await waitFor(() => fileLines(join(dir, 'b.jsonl')).length === 2, { what: 'b mirrors a' });

    for (const [kind, problem] of [
      [undefined, 'unsigned'],
      ['wrong', 'bad_signature'],
    ] as const) {
      const f = await forge(kind);
      const id = await redis.client().xadd(Keys.ledger, '*', ...toStreamFields(f));
      await redis.client().publish(Keys.modeChannel, '{}');
      const v = await verify(a);
      expect(v.ok).toBe(false);
      expect(v.breaks).toEqual([expect.objectContaining({ operation_id: f.operation_id, problem })]);
      for (const t of [a, b]) {
        await waitFor(async () => (await metric(t, problem)) >= 1, { what: `${problem} counted` });
        const h = (await request(t.http).get('/health').expect(200)).body;
        expect(h.status).toBe('degraded');
        expect(h.ledger.rejected).toEqual([{ operation_id: f.operation_id, problem }]);
      }
      // Nest's Logger is process-wide, so two apps in one test share the newest app's sink
      const errors = [a, b].flatMap((t) => t.logs).filter((l) => l.level === 'error');
      expect(errors.some((l) => l.operation_id === f.operation_id && l.problem === problem)).toBe(true);
      for (const file of ['a.jsonl', 'b.jsonl']) {
        expect(readFileSync(join(dir, file), 'utf8')).not.toContain('forged');
      }
      // the attacker removes it again: there is nothing to restore, and the mode never moved
      await redis.client().xdel(Keys.ledger, id!);
      const r = await request(a.http).post('/ops/ledger/restore').set(auth).expect(200);
      expect(r.body.restored).toBe(0);
      expect(await redis.client().hget(Keys.mode, 'mode')).toBe('shadow');
      expect((await rows()).length).toBe(2);
    }
  });

  it("a forged line in a stopped replica's mirror is never restored or applied, whatever change comes next", async () => {
    const file = join(dir, 'ledger.jsonl');
    const first = await boot({ LEDGER_FILE: file });
    await change(first, { mode: 'enforce', reason: 'real one' });
    await change(first, { mode: 'shadow', reason: 'real two' });
    await first.close();
    const forged = await forge('rogue');
    appendFileSync(file, `${toJsonLine(forged)}\n`);

    const t = await boot({ LEDGER_FILE: file });
    const h = (await request(t.http).get('/health').expect(200)).body;
    expect(h.ledger).toMatchObject({ status: 'in_sync', missing_in_redis: 0 });
    expect(h.ledger.rejected).toEqual([{ operation_id: forged.operation_id, problem: 'unknown_signer' }]);
    expect(await metric(t, 'unknown_signer')).toBe(1);
    await change(t, { mode: 'shadow', symbol: 'BTCUSDT', reason: 'unrelated' });
    await change(t, { mode: 'enforce', symbol: 'ETHUSDT', reason: 'unrelated too' });
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('shadow');
    const all = (await rows()).map(([, f]) => fromStreamFields(f));
    expect(all.map((e) => e.reason)).toEqual(['real one', 'real two', 'unrelated', 'unrelated too']);
    // the forged line never moved the day's counter: the next real change took the id it claimed
    expect(all[2].operation_id).toBe(forged.operation_id);
    expect(all[2].reason).toBe('unrelated');
    expect(await verify(t)).toMatchObject({ ok: true, entries: 4 });

    // and with Redis wiped, restore brings back the real entries only
    await redis.flush();
    await request(t.http).post('/ops/ledger/restore').set(auth).expect(200);
    expect((await rows()).map(([, f]) => fromStreamFields(f).reason)).not.toContain('forged');
  });

  it('an entry signed by a key another replica does not trust is unknown_signer there, and never mirrored', async () => {
    const a = await boot();
    const other = makeTestKeyPair();
    const b = await boot({ ...keyEnv(other), LEDGER_FILE: join(dir, 'b.jsonl') });
    const res = await change(a, { mode: 'enforce', reason: 'by a' });
    expect(await verify(a)).toMatchObject({ ok: true });
    const vb = await verify(b);
    expect(vb).toMatchObject({ ok: false, signed: true });
    expect(vb.breaks).toEqual([
      expect.objectContaining({ operation_id: res.body.operation_id, problem: 'unknown_signer' }),
    ]);
    await waitFor(async () => (await metric(b, 'unknown_signer')) === 1, { what: 'b refuses it' });
    expect(fileLines(join(dir, 'b.jsonl'))).toEqual([]);
  });

  it('key rotation: add the new public key everywhere, then switch the private key; the chain verifies throughout', async () => {
    const k1 = makeTestKeyPair();
    const k2 = makeTestKeyPair();
    const both = join(dir, 'trusted.pem');
    writeFileSync(both, `${k1.publicKeyPem}${k2.publicKeyPem}`);
    const before = await boot({ ...keyEnv(k1, both), LEDGER_FILE: join(dir, 'l.jsonl') });
    await change(before, { mode: 'enforce', reason: 'signed by k1' });
    await before.close();
    // switching first, without trusting the new key, is refused at boot
    await expect(boot(keyEnv(k2, k1.trustedKeysFile))).rejects.toThrow(/LEDGER_TRUSTED_KEYS_FILE/);
    const after = await boot({ ...keyEnv(k2, both), LEDGER_FILE: join(dir, 'l.jsonl') });
    await change(after, { mode: 'shadow', reason: 'signed by k2' });
    const signers = (await rows()).map(([, f]) => fromStreamFields(f).signer);
    expect(signers).toEqual([k1.signer, k2.signer]);
    expect(await verify(after)).toEqual({ ok: true, entries: 2, signed: true, breaks: [] });
    expect(fileLines(join(dir, 'l.jsonl'))).toHaveLength(2);
  });

  it('the offline verifier agrees with GET /ops/ledger/verify on the same chain, with the public keys alone', async () => {
    const file = join(dir, 'ledger.jsonl');
    const t = await boot({ LEDGER_FILE: file });
    for (let i = 0; i < 6; i++)
      await change(t, { mode: i % 2 ? 'shadow' : 'enforce', reason: `change ${i}` });
    const run = (path: string) => {
      let out = '';
      const code = verifyCli(
        ['--trusted', sharedTestKeyPair().trustedKeysFile, path],
        (s) => (out += s),
        () => undefined,
      );
      return { code, report: JSON.parse(out) as Record<string, unknown> };
    };
    const good = run(file);
    expect(good.code).toBe(0);
    expect(good.report).toEqual(await verify(t));

    // the same tampering in Redis and in a copy of the file: two far-apart breaks, reported alike
    const lines = fileLines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    lines[1].reason = 'rewritten';
    delete lines[4].signature;
    const copy = join(dir, 'tampered.jsonl');
    writeFileSync(copy, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const edit = async (i: number, fn: (f: Record<string, unknown>) => void) => {
      const all = await rows();
      await redis.client().del(Keys.ledger);
      for (const [j, [id, f]] of all.entries()) {
        const rec = fromStreamFields(f);
        if (j === i) fn(rec);
        await redis.client().xadd(Keys.ledger, id, ...Object.entries(rec).flat().map(String));
      }
    };
    await edit(1, (r) => (r.reason = 'rewritten'));
    await edit(4, (r) => delete r.signature);
    const api = await verify(t);
    const offline = run(copy);
    expect(offline.code).toBe(1);
    const strip = (r: Record<string, unknown>) => ({
      ...r,
      breaks: (r.breaks as Array<Record<string, unknown>>).map(({ operation_id, problem, index }) => ({
        operation_id,
        problem,
        index,
      })),
    });
    expect(strip(offline.report)).toEqual(strip(api));
    expect((api.breaks as Array<{ problem: string }>).map((b) => b.problem)).toEqual([
      'hash_mismatch',
      'unsigned',
    ]);
  });

  it('with signing off, verify and /health say signed: false', async () => {
    const t = await createTestApp(
      { REDIS_URL: redis.url, OPS_API_TOKENS: tokenEntry('alice', 'operator', op) },
      { unsigned: true },
    );
    apps.push(t);
    await change(t, { mode: 'enforce', reason: 'unsigned' });
    expect(await verify(t)).toEqual({ ok: true, entries: 1, signed: false, breaks: [] });
    expect((await request(t.http).get('/health')).body.ledger).toMatchObject({ signed: false });
    const [[, fields]] = await rows();
    expect(fromStreamFields(fields).signature).toBeUndefined();
  });

  it('turning signing on for an existing ledger: signed from the marked entry onwards, unsigned before it', async () => {
    const t = await createTestApp(
      { REDIS_URL: redis.url, OPS_API_TOKENS: tokenEntry('alice', 'operator', op) },
      { unsigned: true },
    );
    apps.push(t);
    await change(t, { mode: 'enforce', reason: 'old unsigned one' });
    await change(t, { mode: 'shadow', reason: 'old unsigned two' });
    await t.close();
    const k = makeTestKeyPair();
    const day = utcDay(Date.now());
    const marked = join(dir, 'trusted.pem');
    writeFileSync(marked, `${k.publicKeyPem}signed-from: ${formatOperationId(day, 3)}\n`);
    expect(loadTrustedKeys('x', marked).signedFrom).toBe(formatOperationId(day, 3));
    const s = await boot(keyEnv(k, marked));
    await change(s, { mode: 'enforce', reason: 'first signed' });
    expect(await verify(s)).toEqual({ ok: true, entries: 3, signed: true, breaks: [] });
    // without the mark the two old entries are breaks
    const unmarked = await boot(keyEnv(k));
    expect((await verify(unmarked)).breaks.map((b: { problem: string }) => b.problem)).toEqual([
      'unsigned',
      'unsigned',
    ]);
  });

  it('a missing or bad key file stops the service at boot, naming the variable', async () => {
    await expect(
      boot({ LEDGER_SIGNING_KEY_FILE: join(dir, 'nope.key'), LEDGER_TRUSTED_KEYS_FILE: '' }),
    ).rejects.toThrow(/LEDGER_SIGNING_KEY_FILE: cannot read/);
    const notPem = join(dir, 'junk.key');
    writeFileSync(notPem, 'not a key');
    await expect(boot({ LEDGER_SIGNING_KEY_FILE: notPem, LEDGER_TRUSTED_KEYS_FILE: '' })).rejects.toThrow(
      /LEDGER_SIGNING_KEY_FILE: .* no PEM private key/,
    );
    const k = makeTestKeyPair();
    const junkTrust = join(dir, 'junk.pem');
    writeFileSync(junkTrust, 'nothing here');
    await expect(boot(keyEnv(k, junkTrust))).rejects.toThrow(
      /LEDGER_TRUSTED_KEYS_FILE: .* no PEM public key/,
    );

    // the real process exits 1 with the variable named
    let lines = '';
    await startProcessApp({
      REDIS_URL: redis.url,
      LEDGER_SIGNING_KEY_FILE: join(dir, 'nope.key'),
    }).catch((err: Error) => (lines = err.message));
    expect(lines).toMatch(/service exited early/);
    expect(lines).toMatch(/LEDGER_SIGNING_KEY_FILE/);
  }, 60_000);

  it('a private key file readable by others boots with a warning to chmod 600 it', async () => {
    const k = makeTestKeyPair();
    chmodSync(k.privateKeyFile, 0o644);
    const t = await boot(keyEnv(k));
    expect(t.logs.some((l) => l.level === 'warn' && /chmod 600/.test(String(l.msg)))).toBe(true);
  });

  it('the key generator prints a key pair the service accepts', () => {
    let out = '';
    let err = '';
    expect(
      keygen(
        [],
        (s) => (out += s),
        (s) => (err += s),
      ),
    ).toBe(0);
    expect(out).toMatch(/BEGIN PRIVATE KEY[\s\S]*BEGIN PUBLIC KEY/);
    expect(err).toMatch(/^signer: [0-9a-f]{16}$/m);
    const prefix = join(dir, 'replica-a');
    expect(
      keygen(
        ['--out', prefix],
        () => undefined,
        () => undefined,
      ),
    ).toBe(0);
    const key = loadSigningKey('LEDGER_SIGNING_KEY_FILE', `${prefix}.key`);
    expect(loadTrustedKeys('LEDGER_TRUSTED_KEYS_FILE', `${prefix}.pub`).keys.has(key.signer)).toBe(true);
    expect(
      keygen(
        ['--bogus'],
        () => undefined,
        () => undefined,
      ),
    ).toBe(2);
  });
});
