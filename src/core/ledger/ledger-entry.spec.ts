import { describe, expect, it } from 'vitest';
import {
  canonicalEncoding,
  entryHash,
  formatOperationId,
  fromStreamFields,
  GENESIS_HASH,
  parseOperationId,
  sealEntry,
  toStreamFields,
  utcDay,
  type LedgerEntry,
} from './ledger-entry.js';
import { verifyLedger } from './ledger-verify.js';

function chain(n: number): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const e = sealEntry({
      operation_id: formatOperationId('2025-03-04', i),
      operation_name: i % 2 ? 'set-mode' : 'rollback',
      actor: 'alice',
      scope: 'global',
      from_mode: i % 2 ? 'shadow' : 'enforce',
      to_mode: i % 2 ? 'enforce' : 'shadow',
      reason: `change ${i}`,
      risk_class: i % 2 ? 'high' : 'low',
      outcome: 'applied',
      ...(i % 2 ? {} : { rollback_of: formatOperationId('2025-03-04', i - 1) }),
      version: i,
      git_commit: 'abc123',
      hostname: 'host-a',
      timestamp: 1_741_046_400 + i,
      prev_hash: prev,
    });
    out.push(e);
    prev = e.hash;
  }
  return out;
}
const records = (entries: LedgerEntry[]) => entries.map((e) => ({ ...e }) as Record<string, unknown>);
const items = (entries: ReadonlyArray<object>) =>
  entries.map((entry) => ({ entry: entry as Record<string, unknown> }));

describe('canonical encoding', () => {
  it('sorts keys, leaves out hash and undefined, and does not depend on insertion order', () => {
    const a = canonicalEncoding({ b: 1, a: 'x', hash: 'h', c: undefined });
    const b = canonicalEncoding({ a: 'x', c: undefined, b: 1 });
    expect(a).toBe('{"a":"x","b":1}');
    expect(b).toBe(a);
  });

  it('the hash is the SHA-256 of the canonical encoding, so prev_hash is covered', () => {
    const [e] = chain(1);
    expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entryHash({ ...e, prev_hash: 'f'.repeat(64) })).not.toBe(e.hash);
    expect(entryHash({ ...e, hash: 'ignored' })).toBe(e.hash);
  });

  it('survives the round trip through stream fields, numbers included', () => {
    for (const e of chain(4)) {
      const back = fromStreamFields(toStreamFields(e));
      expect(back).toEqual(e);
      expect(entryHash(back)).toBe(e.hash);
    }
  });

  it('a numeric field rewritten in another spelling no longer matches', () => {
    const [e] = chain(1);
    const fields = toStreamFields(e);
    fields[fields.indexOf('version') + 1] = '01';
    const back = fromStreamFields(fields);
    expect(back.version).toBe('01');
    expect(entryHash(back)).not.toBe(e.hash);
  });
});

describe('verifyLedger (unsigned)', () => {
  const problems = (r: ReturnType<typeof verifyLedger>) => r.breaks.map((b) => [b.index, b.problem]);

  it('accepts an intact chain and an empty one, and says it is not signed', () => {
    expect(verifyLedger(items(chain(5)))).toEqual({ ok: true, entries: 5, signed: false, breaks: [] });
    expect(verifyLedger([])).toEqual({ ok: true, entries: 0, signed: false, breaks: [] });
  });

  it('names an altered entry, once', () => {
    const c = records(chain(4));
    c[1].reason = 'nothing to see here';
    const r = verifyLedger(items(c));
    expect(r.ok).toBe(false);
    expect(r.breaks).toEqual([
      expect.objectContaining({ index: 1, operation_id: 'OPS-2025-03-04-002', problem: 'hash_mismatch' }),
    ]);
  });

  it('names an added field as bad shape and a hash mismatch', () => {
    const c = records(chain(3));
    c[1].extra = 'x';
    expect(problems(verifyLedger(items(c)))).toEqual([
      [1, 'bad_shape'],
      [1, 'hash_mismatch'],
    ]);
  });

  it('names the entry after a deleted one (prev and version)', () => {
    const c = chain(4);
    c.splice(2, 1);
    expect(problems(verifyLedger(items(c)))).toEqual([
      [2, 'prev_mismatch'],
      [2, 'version_gap'],
    ]);
  });

  it('names a deleted first entry', () => {
    expect(problems(verifyLedger(items(chain(3).slice(1))))).toEqual([
      [0, 'prev_mismatch'],
      [0, 'version_gap'],
    ]);
  });

  it('reports two breaks far apart, not only the first', () => {
    const c = records(chain(40));
    c[3].reason = 'early tamper';
    c[35].actor = 'mallory';
    expect(problems(verifyLedger(items(c)))).toEqual([
      [3, 'hash_mismatch'],
      [35, 'hash_mismatch'],
    ]);
  });

  it('a deleted last entry, or an empty ledger, is a version gap against the mode hash', () => {
    const c = chain(4);
    expect(verifyLedger(items(c), undefined, { version: 4, operation_id: 'OPS-2025-03-04-004' }).ok).toBe(
      true,
    );
    const r = verifyLedger(items(c.slice(0, 3)), undefined, {
      version: 4,
      operation_id: 'OPS-2025-03-04-004',
    });
    expect(r.breaks).toEqual([
      expect.objectContaining({ index: 3, operation_id: 'OPS-2025-03-04-004', problem: 'version_gap' }),
    ]);
    expect(verifyLedger([], undefined, { version: 2 }).breaks).toEqual([
      expect.objectContaining({ problem: 'version_gap' }),
    ]);
    expect(verifyLedger([], undefined, { version: 0 }).ok).toBe(true);
  });
});

describe('what the hash covers is what is stored', () => {
  it('every field, optional ones included, verifies after the round trip through Redis and the mirror', () => {
    const e = sealEntry({
      operation_id: 'OPS-2025-03-04-001',
      operation_name: 'set-mode',
      actor: 'alice',
      scope: 'global',
      from_mode: 'shadow',
      to_mode: 'enforce',
      reason: 'all the fields',
      risk_class: 'high',
      outcome: 'applied',
      rollback_of: 'OPS-2025-03-03-009',
      expires_at: 1_741_050_000,
      version: 1,
      git_commit: 'abc',
      hostname: 'h',
      timestamp: 1_741_046_400,
      prev_hash: GENESIS_HASH,
      signer: '0123456789abcdef',
    });
    const fromRedis = fromStreamFields(toStreamFields(e));
    const fromMirror = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
    expect(fromRedis).toEqual(e);
    expect(fromMirror).toEqual(e);
    expect(entryHash(fromRedis)).toBe(e.hash);
    expect(entryHash(fromMirror)).toBe(e.hash);
  });

  it('refuses to seal a value that Redis and the mirror would store differently (null, a float)', () => {
    const base = chain(1)[0];
    const { hash: _h, ...unsealed } = base;
    expect(() => sealEntry({ ...unsealed, scope: null as unknown as string })).toThrow(/scope/);
    expect(() => sealEntry({ ...unsealed, version: 1.5 })).toThrow(/version/);
    expect(() => sealEntry(unsealed)).not.toThrow();
  });
});

describe('operation ids', () => {
  it('formats OPS-YYYY-MM-DD-NNN with at least three digits', () => {
    expect(formatOperationId('2025-01-02', 1)).toBe('OPS-2025-01-02-001');
    expect(formatOperationId('2025-01-02', 42)).toBe('OPS-2025-01-02-042');
    expect(formatOperationId('2025-01-02', 1234)).toBe('OPS-2025-01-02-1234');
    expect(() => formatOperationId('2025-01-02', 0)).toThrow();
    expect(() => formatOperationId('25-1-2', 1)).toThrow();
  });

  it('parses what it formats and nothing else', () => {
    expect(parseOperationId('OPS-2025-01-02-007')).toEqual({ day: '2025-01-02', seq: 7 });
    expect(parseOperationId('OPS-2025-01-02-1234')).toEqual({ day: '2025-01-02', seq: 1234 });
    expect(parseOperationId('OPS-2025-01-02-07')).toBeUndefined();
    expect(parseOperationId('OPS-2025-01-02-000')).toBeUndefined();
    expect(parseOperationId('ops-2025-01-02-001')).toBeUndefined();
  });

  it('uses the UTC day', () => {
    // 23:30 on Jan 1 in New York is already Jan 2 in UTC
    expect(utcDay(Date.parse('2025-01-01T23:30:00-05:00'))).toBe('2025-01-02');
    expect(utcDay(Date.parse('2025-01-02T00:00:00Z') - 1)).toBe('2025-01-01');
  });
});
