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
  verifyChain,
  type LedgerEntry,
} from './ledger-entry.js';

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

describe('verifyChain', () => {
  it('accepts an intact chain and an empty one', () => {
    expect(verifyChain(items(chain(5)))).toEqual({ ok: true, entries: 5 });
    expect(verifyChain([])).toEqual({ ok: true, entries: 0 });
  });

  it('names an altered entry', () => {
    const c = records(chain(5));
    c[2] = { ...c[2], reason: 'quietly edited' };
    const r = verifyChain(items(c));
    expect(r.ok).toBe(false);
    expect(r.first_bad).toMatchObject({
      index: 2,
      operation_id: 'OPS-2025-03-04-003',
      problem: 'hash_mismatch',
    });
  });

  it('names an added field', () => {
    const c = records(chain(3));
    c[1] = { ...c[1], approved_by: 'mallory' };
    expect(verifyChain(items(c)).first_bad).toMatchObject({ index: 1, problem: 'hash_mismatch' });
  });

  it('names the entry after a deleted one', () => {
    const c = chain(5);
    c.splice(1, 1);
    expect(verifyChain(items(c)).first_bad).toMatchObject({
      index: 1,
      operation_id: 'OPS-2025-03-04-003',
      problem: 'prev_hash_mismatch',
    });
  });

  it('names a deleted first entry and a reordering', () => {
    expect(verifyChain(items(chain(3).slice(1))).first_bad).toMatchObject({
      index: 0,
      operation_id: 'OPS-2025-03-04-002',
      problem: 'prev_hash_mismatch',
    });
    const c = chain(4);
    [c[1], c[2]] = [c[2], c[1]];
    expect(verifyChain(items(c)).first_bad).toMatchObject({ index: 1, operation_id: 'OPS-2025-03-04-003' });
  });

  it('a deleted last entry is caught by the expected last operation', () => {
    const c = chain(4);
    expect(verifyChain(items(c), { operation_id: 'OPS-2025-03-04-004' }).ok).toBe(true);
    const r = verifyChain(items(c.slice(0, 3)), { operation_id: 'OPS-2025-03-04-004' });
    expect(r.first_bad).toMatchObject({
      index: 3,
      operation_id: 'OPS-2025-03-04-004',
      problem: 'head_mismatch',
    });
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
