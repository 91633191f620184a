import { describe, expect, it } from 'vitest';
import { Batch, type RedisSession, type Reply } from '../../platform/redis/batch.js';
import { ClusterStressReader } from './cluster-stress.reader.js';
import { StaleInputs } from './reading.js';

/** Runs a reader's plan against canned replies (the command order is the reader's own). */
async function answer(plan: Batch, replies: unknown[]) {
  const session = {
    exec: async () => replies.map((v): Reply => (v instanceof Error ? [v, null] : [null, v])),
  };
  await plan.run(session as unknown as RedisSession);
}

describe('ClusterStressReader (docs/contract.md §1 Inputs cluster stress)', () => {
  const reader = new ClusterStressReader();
  const NOW = 1_900_000_000;
  const AGES = { nowSec: NOW, maxAgeSec: 300 };

  async function resolve(
    membership: Record<string, string>,
    wide: string | null,
    legacy: string | null,
    states: Record<string, string | null>,
    ts: string | null = null,
    stateTs: Record<string, string> = {},
  ) {
    const stale = new StaleInputs();
    const p1 = new Batch();
    const mapOf = reader.planMap(p1, AGES);
    await answer(p1, [membership, [wide, ts], [legacy, ts]]);
    const map = mapOf(stale);
    const p2 = new Batch();
    const symbols = ['BTC', 'ETH', 'SOL'];
    const of = reader.plan(p2, map, symbols, AGES);
    await answer(
      p2,
      p2.commands.map(([, key]) => {
        const id = String(key).split(':').pop() as string;
        return [states[id] ?? null, stateTs[id] ?? ts];
      }),
    );
    return { of: (s: string) => of(s, stale), stale };
  }

  it("uses the symbol's cluster stress, else the portfolio-wide value, else the legacy key", async () => {
    const { of, stale } = await resolve({ majors: '["BTC","ETH"]' }, '0.3', '0.9', { majors: '0.6' });
    expect(of('BTC')).toMatchObject({ value: 0.6, source: 'cluster:majors' });
    expect(of('SOL')).toMatchObject({ value: 0.3, source: 'portfolio' });
    expect(stale.empty).toBe(true);

    const legacyOnly = await resolve({}, null, '0.9', {});
    expect(legacyOnly.of('SOL')).toMatchObject({ value: 0.9, source: 'legacy' });
  });

  it('a symbol in several clusters takes the most stressed one', async () => {
    const { of } = await resolve({ a: '["BTC"]', b: '["BTC"]' }, null, null, { a: '0.2', b: '0.7' });
    expect(of('BTC').value).toBe(0.7);
  });

  it('nothing at all → 0, counted stale; garbage cluster state or membership counted and skipped', async () => {
    const none = await resolve({}, null, null, {});
    expect(none.of('BTC')).toEqual({ value: 0, status: 'missing' });
    expect(none.stale.counts.get('cluster')).toBe(1);

    const bad = await resolve({ majors: '["BTC"]', broken: 'not json' }, '0.25', null, { majors: '-1' });
    expect(bad.of('BTC')).toMatchObject({ value: 0.25, source: 'portfolio' });
    expect(bad.stale.counts.get('cluster')).toBe(2); // broken membership + majors' garbage stress
  });

  it('a value whose updated_ts is older than the max age is stale: counted and skipped for the next source', async () => {
    const old = String(NOW - 301);
    const fresh = String(NOW - 10);
    const { of, stale } = await resolve({ majors: '["BTC"]' }, '0.3', '0.9', { majors: '0.6' }, fresh, {
      majors: old,
    });
    expect(of('BTC')).toMatchObject({ value: 0.3, source: 'portfolio' });
    expect(stale.counts.get('cluster')).toBe(1);

    const allOld = await resolve({ majors: '["BTC"]' }, '0.3', '0.9', { majors: '0.6' }, old);
    expect(allOld.of('BTC')).toEqual({ value: 0, status: 'missing' });
    expect(allOld.stale.counts.get('cluster')).toBe(4); // wide, legacy, majors, and no value at all
  });

  it('clamps a stress above 1', async () => {
    const { of } = await resolve({ a: '["BTC"]' }, null, null, { a: '3' });
    expect(of('BTC').value).toBe(1);
  });
});
