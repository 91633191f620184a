import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EvaluatePlanDto } from './evaluate-plan.dto.js';
import { checkEvaluatePlan } from './evaluate-plan.check.js';

/** What the app's global ValidationPipe would say about a body typed EvaluatePlanDto. */
function reference(body: Record<string, unknown>): { ok: boolean; fields: string[] } {
  const errors = validateSync(plainToInstance(EvaluatePlanDto, body), {
    whitelist: true,
    forbidNonWhitelisted: true,
  });
  return { ok: errors.length === 0, fields: errors.map((e) => e.property).sort() };
}

function fast(body: unknown): { ok: boolean; fields: string[]; value?: unknown } {
  const r = checkEvaluatePlan(body);
  if (r.plan) return { ok: true, fields: [], value: r.plan };
  const res = r.invalid;
  expect(res).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  for (const f of res.fields) expect(res.message.some((m) => m.startsWith(`${f}:`))).toBe(true);
  return { ok: false, fields: [...res.fields].sort() };
}

describe('checkEvaluatePlan agrees with EvaluatePlanDto (class-validator)', () => {
  const anyValue = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer({ min: -5, max: 1e6 }),
    fc.constantFrom(
      '',
      'BUY',
      'SELL',
      'buy',
      'BTCUSDT',
      'btcusdt',
      'BTC USDT',
      'x'.repeat(129),
      'p-1',
      '1',
      'A'.repeat(33),
    ),
    fc.string({ maxLength: 140 }),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 1 }),
  );
  const good = {
    plan_id: fc.string({ minLength: 1, maxLength: 128 }),
    symbol: fc.stringMatching(/^[A-Z0-9][A-Z0-9._-]{0,31}$/),
    side: fc.constantFrom('BUY', 'SELL'),
    qty: fc.double({ min: 0, max: 1e9, noNaN: true }),
    projected_notional: fc.double({ min: 0, max: 1e9, noNaN: true }),
    reduce_only: fc.boolean(),
  };
  const body = fc.record(
    {
      plan_id: fc.oneof(good.plan_id, anyValue),
      symbol: fc.oneof(good.symbol, anyValue),
      side: fc.oneof(good.side, anyValue),
      qty: fc.oneof(good.qty, anyValue),
      projected_notional: fc.oneof(good.projected_notional, anyValue),
      reduce_only: fc.oneof(good.reduce_only, anyValue),
      leverage: anyValue,
    },
    { requiredKeys: [] },
  );

  it('accepts and refuses the same bodies, naming the same fields', () => {
    fc.assert(
      fc.property(body, (b) => {
        // JSON never carries undefined values: drop them as the body parser would
        const json = JSON.parse(JSON.stringify(b)) as Record<string, unknown>;
        const r = reference(json);
        const f = fast(json);
        expect(f.ok).toBe(r.ok);
        expect(f.fields).toEqual(r.fields);
      }),
      { numRuns: 1500 },
    );
  });

  it('returns only the known fields, without nulls', () => {
    expect(
      checkEvaluatePlan({ plan_id: 'a', symbol: 'BTCUSDT', side: null, qty: 1, reduce_only: false }).plan,
    ).toEqual({
      plan_id: 'a',
      symbol: 'BTCUSDT',
      qty: 1,
      reduce_only: false,
    });
  });

  it('refuses a body that is not an object', () => {
    for (const b of ['x', 5, [1], true]) expect(fast(b)).toEqual({ ok: false, fields: ['body'] });
    expect(fast(undefined).fields).toEqual(['plan_id', 'symbol']);
  });
});

describe('checkEvaluatePlan on a hostile body', () => {
  it('refuses ~120,000 unknown keys in milliseconds, naming only the first few', () => {
    const body: Record<string, unknown> = { plan_id: 'a', symbol: 'BTCUSDT' };
    for (let i = 0; i < 120_000; i++) body[`k${i}`] = 0;
    const started = performance.now();
    const r = checkEvaluatePlan(body);
    const ms = performance.now() - started;
    expect(r.invalid?.fields).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(r.invalid?.message).toHaveLength(5);
    // one pass over the keys; naming them all took ~12 s
    expect(ms).toBeLessThan(500);
  });
});
