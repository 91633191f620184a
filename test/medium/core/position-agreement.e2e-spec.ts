import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch, RedisSession } from '../../../src/platform/redis/batch.js';
import { PositionReader } from '../../../src/budget/inputs/position.reader.js';
import { StaleInputs } from '../../../src/budget/inputs/reading.js';
import type { AppConfig } from '../../../src/platform/config/index.js';
import { parsePosition } from '../../../src/core/position.js';
import { currentPosition } from '../../../src/governor-gate/gate-evaluator.js';
import { GateReader } from '../../../src/governor-gate/gate.repository.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/**
 * The engine and the gate read the same position keys (current pattern first, legacy second) with
 * their own readers; whatever another service writes there, they must make the same of it.
 */
const PATTERNS = ['agree:cur:*', 'agree:old:*'];
const SYMBOL = 'AGREEUSDT';

const value = fc.oneof(
  fc.constantFrom('0', '-0', '1.5', '-2', ' 3 ', '', ' ', 'NaN', 'abc', '1e309', '0x10', 'null'),
  fc.double({ noNaN: true }).map(String),
  fc.string({ maxLength: 6 }),
);
const sideValue = fc.constantFrom('LONG', 'SHORT', 'BUY', 'SELL', 'FLAT', ' flat ', 'long', '', 'x');
const hash = fc.option(
  fc.record(
    {
      position_amt: value,
      quantity: value,
      qty: value,
      side: sideValue,
      mark_price: value,
      current_price: value,
      entry_price: value,
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

describe('position agreement between the engine and the gate', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('reads every pair of position hashes to the same amount and price', async () => {
    const client = redis.client();
    const gate = new GateReader(redis.client(), false, PATTERNS);
    const engine = new PositionReader({ POSITION_KEY_PATTERNS: PATTERNS } as unknown as AppConfig);
    const session = new RedisSession(client, false);
    await fc.assert(
      fc.asyncProperty(hash, hash, async (cur, old) => {
        await client.del(`agree:cur:${SYMBOL}`, `agree:old:${SYMBOL}`);
        // HSET with no fields is an error; an empty record stands for "the key exists, holds junk"
        if (cur) await client.hset(`agree:cur:${SYMBOL}`, { junk: '1', ...cur });
        if (old) await client.hset(`agree:old:${SYMBOL}`, { junk: '1', ...old });

        const stale = new StaleInputs();
        const bySymbol = await engine.discover(session, stale);
        const batch = new Batch();
        const positionOf = engine.plan(batch, bySymbol);
        await batch.run(session);
        const e = positionOf(SYMBOL, stale);

        const g = currentPosition(await gate.read(SYMBOL));
        // The known difference: an active amount with no usable price, or a notional past the
        // largest double, is garbage to the engine (it falls back to the legacy key) while the
        // gate keeps the key's amount (enough to judge reduces-risk).
        const first = [cur, old].find((h) => {
          const p = parsePosition(h ?? null);
          return p.kind !== 'gone' && p.kind !== 'garbage';
        });
        const pp = first ? parsePosition(first) : undefined;
        const engineRefuses =
          pp?.kind === 'active' &&
          (pp.price === undefined || !Number.isFinite(Math.abs(pp.amount) * pp.price));
        if (engineRefuses) {
          expect(g).toEqual({ amount: pp.amount, price: pp.price });
        } else if (typeof e === 'object') {
          expect(g).toEqual({ amount: e.amount, price: e.price });
        } else if (e === 'flat') {
          expect(g.amount).toBe(0);
        } else {
          expect(g.amount).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });
});
