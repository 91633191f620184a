import { describe, expect, it } from 'vitest';
import { parsePlanEntry } from './plan-parser.js';

const flat = (o: Record<string, string>) => Object.entries(o).flat();

describe('parsePlanEntry', () => {
  it('takes no plan fields through a __proto__ key (flat or JSON): they are not the plan', () => {
    const json = '{"__proto__": {"plan_id": "hid", "symbol": "BTCUSDT", "decision": "EXECUTE"}}';
    expect(parsePlanEntry(['json', json])).toEqual({ kind: 'skip', decision: '(none)', plan_id: undefined });
    expect(parsePlanEntry(['__proto__', 'x', 'constructor', 'y'])).toEqual({
      kind: 'skip',
      decision: '(none)',
      plan_id: undefined,
    });
  });

  it('reads flat fields as the apply layer writes them', () => {
    expect(
      parsePlanEntry(
        flat({
          plan_id: 'abc',
          symbol: 'btcusdt',
          decision: 'execute',
          side: 'buy',
          qty: '0.5',
          kill_score: '0.3',
        }),
      ),
    ).toEqual({ kind: 'plan', plan: { plan_id: 'abc', symbol: 'BTCUSDT', side: 'BUY', qty: 0.5 } });
  });

  it('reads a JSON plan in json/payload, JSON values winning over flat ones', () => {
    const json = JSON.stringify({
      plan_id: 'p9',
      symbol: 'ETHUSDT',
      decision: 'EXECUTE',
      side: 'SHORT',
      projected_notional: 900,
    });
    expect(parsePlanEntry(['payload', json])).toEqual({
      kind: 'plan',
      plan: { plan_id: 'p9', symbol: 'ETHUSDT', side: 'SELL', projected_notional: 900 },
    });
    expect(parsePlanEntry(['symbol', 'XRPUSDT', 'json', json])).toMatchObject({
      plan: { symbol: 'ETHUSDT' },
    });
  });

  it('skips anything that is not EXECUTE, a missing decision included', () => {
    expect(parsePlanEntry(flat({ plan_id: 'a', symbol: 'BTCUSDT', decision: 'SKIP' }))).toEqual({
      kind: 'skip',
      decision: 'SKIP',
      plan_id: 'a',
    });
    expect(parsePlanEntry(flat({ plan_id: 'a', symbol: 'BTCUSDT' }))).toMatchObject({
      kind: 'skip',
      decision: '(none)',
    });
  });

  it('treats reduce_only/reduceOnly and closing actions as reduce-only', () => {
    const base = { plan_id: 'a', symbol: 'BTCUSDT', decision: 'EXECUTE' };
    const extras: Record<string, string>[] = [
      { reduceOnly: 'true' },
      { reduce_only: '1' },
      { action: 'FULL_CLOSE_PROPOSED' },
      { action: 'PARTIAL_75' },
    ];
    for (const extra of extras) {
      const r = parsePlanEntry(flat({ ...base, ...extra }));
      expect(r).toMatchObject({ kind: 'plan', plan: { reduce_only: true } });
    }
    const open = parsePlanEntry(flat({ ...base, action: 'OPEN', reduceOnly: 'false' }));
    expect(open).toEqual({ kind: 'plan', plan: { plan_id: 'a', symbol: 'BTCUSDT' } });
    // names that only contain a closing word are not closing actions
    for (const action of ['PARTIAL_ENTRY', 'CLOSE_AND_REVERSE', 'NO_REDUCE']) {
      expect(parsePlanEntry(flat({ ...base, action }))).toEqual({
        kind: 'plan',
        plan: { plan_id: 'a', symbol: 'BTCUSDT' },
      });
    }
  });

  it('drops numbers that are not finite and non-negative', () => {
    const r = parsePlanEntry(
      flat({ plan_id: 'a', symbol: 'BTCUSDT', decision: 'EXECUTE', qty: 'NaN', projected_notional: '-5' }),
    );
    expect(r).toEqual({ kind: 'plan', plan: { plan_id: 'a', symbol: 'BTCUSDT' } });
  });

  it('marks EXECUTE entries without a plan id or a usable symbol invalid', () => {
    expect(parsePlanEntry(flat({ symbol: 'BTCUSDT', decision: 'EXECUTE' })).kind).toBe('invalid');
    expect(
      parsePlanEntry(flat({ plan_id: 'x'.repeat(129), symbol: 'BTCUSDT', decision: 'EXECUTE' })).kind,
    ).toBe('invalid');
    expect(parsePlanEntry(flat({ plan_id: 'a', symbol: 'BTC USDT', decision: 'EXECUTE' })).kind).toBe(
      'invalid',
    );
    expect(parsePlanEntry(flat({ plan_id: 'a', decision: 'EXECUTE' })).kind).toBe('invalid');
    // broken JSON is ignored, the flat fields still count
    expect(
      parsePlanEntry(['json', '{nope', ...flat({ plan_id: 'a', symbol: 'BTCUSDT', decision: 'EXECUTE' })])
        .kind,
    ).toBe('plan');
  });
});
