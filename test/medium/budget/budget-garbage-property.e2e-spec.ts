import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetEngine } from '../../../src/budget/budget.engine.js';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startHeatStub, type HeatStub } from '../../support/heat-stub.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/**
 * Garbage in every input key (CONTRACT.md §1): whatever other services write, a tick never throws
 * and never writes a non-finite number anywhere.
 */
const SYMBOLS = ['GARAUSDT', 'GARBUSDT', 'GARCUSDT'];

/** Strings other services might plausibly (or implausibly) write into a numeric field. */
const junk = fc.oneof(
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '-1e309',
    '',
    ' ',
    'abc',
    '-1',
    '0',
    '-0',
    '1e-320',
    '0x10',
  ),
  fc.constantFrom('null', 'undefined', '[]', '{}', '1,5', '1.5.5', '١٢٣', '💥', '\u0000'),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 12 }),
);
const side = fc.oneof(
  fc.constantFrom('LONG', 'SHORT', 'FLAT', 'BUY', 'SELL', 'long', ''),
  fc.string({ maxLength: 6 }),
);
const regime = fc.oneof(
  fc.constantFrom('EXTREME', 'HIGH_VOL', 'LOW', 'NORMAL', 'extreme', ''),
  fc.string({ maxLength: 10 }),
);
const clusterJson = fc.oneof(
  fc.constant(JSON.stringify(SYMBOLS)),
  fc.constantFrom('not json', '[1,2', '{"a":1}', 'null', '[]', '[null, 7, {}]', '"GARAUSDT"'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);
const heatText = fc.oneof(
  junk.map((v) => `# TYPE p26_heat_value gauge\np26_heat_value ${v}\n`),
  fc.constantFrom('', 'garbage\n{{{', 'p26_heat_value\n', '# TYPE p26_heat_value gauge\n'),
  fc.string({ maxLength: 60 }),
);

const world = fc.record({
  equity: junk,
  drawdown: junk,
  stateAge: fc.integer({ min: -100, max: 2000 }),
  positions: fc.array(
    fc.record({ amt: junk, side, mark: junk, current: junk, entry: junk, legacy: fc.boolean() }),
    { minLength: SYMBOLS.length, maxLength: SYMBOLS.length },
  ),
  sigma: fc.array(junk, { minLength: 3, maxLength: 3 }),
  legacyRegime: fc.array(regime, { minLength: 3, maxLength: 3 }),
  legacySigma: fc.array(junk, { minLength: 3, maxLength: 3 }),
  clusters: clusterJson,
  clusterStress: junk,
  wideStress: junk,
  legacyStress: junk,
  heat: heatText,
});

describe('garbage in every input key', () => {
  let redis: TestRedis;
  let t: TestApp;
  let heat: HeatStub;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    redis = await startTestRedis();
    heat = await startHeatStub(0.2);
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        BUDGET_COMPUTE_INTERVAL_SEC: '3600',
        HEAT_GATE_METRICS_URL: heat.url,
        LOG_LEVEL: 'error',
      },
      { clock },
    );
  });
  afterAll(async () => {
    await t?.close();
    await heat?.close();
    await redis?.close();
  });

  it('never crashes a tick and never writes a non-finite value', async () => {
    const c = redis.client();
    const engine = t.app.get(BudgetEngine);
    let runsThatWrote = 0;
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        await c.flushdb();
        const p = c.pipeline();
        p.hset(Keys.portfolioState, {
          equity_usd: w.equity,
          drawdown: w.drawdown,
          timestamp: String(clock.nowSec() - w.stateAge),
        });
        SYMBOLS.forEach((s, i) => {
          const pos = w.positions[i];
          const key = pos.legacy ? Keys.legacyPosition(s) : Keys.position(s);
          p.hset(key, {
            position_amt: pos.amt,
            side: pos.side,
            mark_price: pos.mark,
            current_price: pos.current,
            entry_price: pos.entry,
          });
          p.hset(Keys.marketState(s), { sigma: w.sigma[i], ts_timestamp: String(clock.nowSec()) });
          p.hset(Keys.legacyMarketState(s), { vol_regime: w.legacyRegime[i], sigma: w.legacySigma[i] });
        });
        p.hset(Keys.clusters, 'c1', w.clusters);
        p.hset(Keys.clusterState('c1'), { stress: w.clusterStress });
        p.hset(Keys.portfolioClusterState, { cluster_stress: w.wideStress });
        p.hset(Keys.legacyClusterStress, { stress: w.legacyStress });
        await p.exec();
        heat.setBody(w.heat);

        const result = await engine.tick();
        expect(['written', 'too_old', 'missing_state']).toContain(result.outcome);
        if (result.written > 0) runsThatWrote += 1;

        // the outputs: budget and latest-violation hashes (inputs under quantum:portfolio:* are ours to garble)
        const outputs = [
          ...(await c.keys('quantum:portfolio:budget:*')),
          ...(await c.keys('quantum:portfolio:violation:*')),
        ];
        for (const key of outputs) {
          for (const [field, value] of Object.entries(await c.hgetall(key))) {
            expect(value, `${key}.${field}`).not.toMatch(/NaN|Infinity/);
            if (!['symbol', 'mode', 'event_type'].includes(field))
              expect(Number.isFinite(Number(value)), `${key}.${field}=${value}`).toBe(true);
          }
        }
        for (const [, fields] of await c.xrange(Keys.violationStream, '-', '+')) {
          const json = fields[fields.indexOf('json') + 1];
          expect(json).not.toMatch(/NaN|Infinity|null/);
          const v = JSON.parse(json) as Record<string, unknown>;
          for (const k of ['position_notional', 'budget_usd', 'over_budget', 'timestamp']) {
            expect(Number.isFinite(v[k]), `${k}=${String(v[k])}`).toBe(true);
          }
        }
      }),
      { numRuns: 60 },
    );
    // the property is only worth something if garbage often still leaves budgets to write
    expect(runsThatWrote).toBeGreaterThan(5);
  }, 120_000);
});
