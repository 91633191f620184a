import { describe, expect, it } from 'vitest';
import { formatOperationId, GENESIS_HASH, sealEntry, type LedgerEntry } from './ledger-entry.js';
import { generateKeyPair, parseTrustedKeys, signHash, type SigningKey } from './ledger-keys.js';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { acceptVerified, verifyLedger } from './ledger-verify.js';

const key = (): SigningKey & { pem: string } => {
  const k = generateKeyPair();
  const privateKey = createPrivateKey(k.privateKeyPem);
  return { signer: k.signer, privateKey, publicKey: createPublicKey(privateKey), pem: k.publicKeyPem };
};

function chain(n: number, signWith?: (i: number) => SigningKey | undefined): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const k = signWith?.(i);
    const e = sealEntry({
      operation_id: formatOperationId('2026-01-02', i),
      operation_name: 'set-mode',
      actor: 'alice',
      scope: 'global',
      from_mode: i % 2 ? 'shadow' : 'enforce',
      to_mode: i % 2 ? 'enforce' : 'shadow',
      reason: `change ${i}`,
      risk_class: i % 2 ? 'high' : 'low',
      outcome: 'applied',
      version: i,
      git_commit: 'c',
      hostname: 'h',
      timestamp: 1_767_312_000 + i,
      prev_hash: prev,
      ...(k ? { signer: k.signer } : {}),
    });
    out.push(k ? { ...e, signature: signHash(e.hash, k) } : e);
    prev = e.hash;
  }
  return out;
}
const items = (es: readonly object[]) => es.map((entry) => ({ entry: entry as Record<string, unknown> }));
const problems = (r: { breaks: Array<{ index: number; problem: string }> }) =>
  r.breaks.map((b) => [b.index, b.problem]);

describe('verifyLedger with signatures', () => {
  const a = key();
  const b = key();
  const trust = parseTrustedKeys('T', a.pem);

  it('a signed chain verifies; unsigned, unknown-signer and badly signed entries are each named', () => {
    expect(verifyLedger(items(chain(5, () => a)), trust)).toEqual({
      ok: true,
      entries: 5,
      signed: true,
      breaks: [],
    });
    const c = chain(8, (i) => (i === 2 ? undefined : i === 5 ? b : a)) as unknown as Array<
      Record<string, unknown>
    >;
    c[6] = { ...c[6], signature: c[7].signature };
    expect(problems(verifyLedger(items(c), trust))).toEqual([
      [1, 'unsigned'],
      [4, 'unknown_signer'],
      [6, 'bad_signature'],
    ]);
  });

  it('shape: unknown operation, bad mode or scope, and an operation id not above its day are bad_shape', () => {
    const c = chain(4, () => a) as unknown as Array<Record<string, unknown>>;
    const resign = (i: number, patch: Record<string, unknown>) => {
      const { hash: _h, signature: _s, ...rest } = { ...c[i], ...patch } as unknown as LedgerEntry;
      const e = sealEntry(rest);
      c[i] = { ...e, signature: signHash(e.hash, a) };
    };
    resign(1, { operation_name: 'drop-table' });
    expect(problems(verifyLedger(items(c), trust))).toContainEqual([1, 'bad_shape']);
    const d = chain(3, () => a) as unknown as Array<Record<string, unknown>>;
    const {
      hash: _h,
      signature: _s,
      ...rest
    } = {
      ...d[2],
      operation_id: d[1].operation_id,
    } as unknown as LedgerEntry;
    const e = sealEntry(rest);
    d[2] = { ...e, signature: signHash(e.hash, a) };
    expect(problems(verifyLedger(items(d), trust))).toEqual([[2, 'bad_shape']]);
  });

  it('reduce_only entries verify; a mode outside the vocabulary (constructor) is bad_shape', () => {
    const c = chain(3, () => a) as unknown as Array<Record<string, unknown>>;
    const reseal = (from: number) => {
      let prev = GENESIS_HASH;
      for (let i = 0; i < c.length; i++) {
        if (i >= from) {
          const { hash: _h, signature: _s, ...rest } = { ...c[i], prev_hash: prev } as unknown as LedgerEntry;
          const e = sealEntry(rest);
          c[i] = { ...e, signature: signHash(e.hash, a) };
        }
        prev = c[i].hash as string;
      }
    };
    c[1] = { ...c[1], from_mode: 'enforce', to_mode: 'reduce_only' };
    c[2] = { ...c[2], from_mode: 'reduce_only', to_mode: 'shadow' };
    reseal(1);
    expect(verifyLedger(items(c), trust)).toMatchObject({ ok: true, breaks: [] });
    c[2] = { ...c[2], to_mode: 'constructor' };
    reseal(2);
    expect(problems(verifyLedger(items(c), trust))).toEqual([[2, 'bad_shape']]);
  });

  it('signed-from: entries before the mark may be unsigned, from it on they must be signed', () => {
    const marked = parseTrustedKeys('T', `${a.pem}signed-from: ${formatOperationId('2026-01-02', 3)}\n`);
    const c = chain(5, (i) => (i >= 3 ? a : undefined));
    expect(verifyLedger(items(c), marked).ok).toBe(true);
    expect(problems(verifyLedger(items(c), trust))).toEqual([
      [0, 'unsigned'],
      [1, 'unsigned'],
    ]);
    // an unsigned entry after the mark, or after the first signed one, is a break
    const late = chain(5, (i) => (i === 3 || i === 4 ? a : undefined));
    expect(problems(verifyLedger(items(late), marked))).toEqual([[4, 'unsigned']]);
  });

  it('acceptVerified skips what does not verify and keeps what chains around it', () => {
    const good = chain(3, () => a);
    const forged = chain(4, (i) => (i === 4 ? b : a))[3];
    const { accepted, rejected } = acceptVerified(
      [...good, forged] as unknown as Array<Record<string, unknown>>,
      trust,
    );
    expect(accepted).toEqual(good);
    expect(rejected).toEqual([expect.objectContaining({ index: 3, problem: 'unknown_signer' })]);
  });

  it('a trusted keys file with a private key block is refused, naming the variable', () => {
    const k = generateKeyPair();
    expect(() => parseTrustedKeys('LEDGER_TRUSTED_KEYS_FILE', `${a.pem}${k.privateKeyPem}`)).toThrow(
      /LEDGER_TRUSTED_KEYS_FILE: .* PRIVATE KEY block; list public keys only/,
    );
  });
});
