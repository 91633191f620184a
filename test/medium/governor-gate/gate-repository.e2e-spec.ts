import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATE_READ_TIMEOUT, GateRepository } from '../../../src/governor-gate/gate.repository.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/** The gate's read against a real Redis: docs/contract.md §3, "never waits longer than GATE_TIMEOUT_MS". */
describe('GateRepository.read', () => {
  let redis: TestRedis;
  let t: TestApp;
  let repo: GateRepository;

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      GATE_TIMEOUT_MS: '50',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
    });
    repo = t.app.get(GateRepository);
    await redis.client().hset(Keys.budget('BTCUSDT'), { budget_usd: 1000, timestamp: 1 });
  });
  afterAll(async () => {
    redis?.thaw();
    await t?.close();
    await redis?.close();
  });

  it('reads the snapshot in one call', async () => {
    const s = await repo.read('BTCUSDT');
    expect(s.budgetUsd).toBe('1000');
  });

  it('a frozen Redis: the bound runs from the call, not from when the read is sent', async () => {
    redis.freeze();
    try {
      const started = performance.now();
      const read = repo.read('BTCUSDT').then(
        () => 'answered',
        (err: unknown) => err,
      );
      // the loop is busy before the read goes out (it is sent on the next setImmediate)
      while (performance.now() - started < 60) {
        /* busy */
      }
      const outcome = await read;
      const waited = performance.now() - started;
      // from the call: due at 50 ms, fired as soon as the loop is free (~60 ms); a timer armed only
      // when the command is sent would fire at ~110 ms
      expect(waited).toBeLessThan(95);
      expect(outcome).toBe(GATE_READ_TIMEOUT);
    } finally {
      redis.thaw();
    }
  });
});
