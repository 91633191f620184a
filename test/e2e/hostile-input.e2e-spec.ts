import { createHash } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/platform/redis/keys.js';
import { BudgetScheduler } from '../../src/budget/budget.scheduler.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';

/**
 * Property-based hostile input over every endpoint: the only answers allowed are 2xx and 4xx,
 * never 5xx, and a 4xx writes nothing to Redis.
 */

const operatorToken = newToken();
const viewerToken = newToken();

type Method = 'get' | 'post' | 'put';
interface Endpoint {
  method: Method;
  path: string;
  fields: string[];
}

const ENDPOINTS: Endpoint[] = [
  {
    method: 'post',
    path: '/governor/evaluate',
    fields: ['plan_id', 'symbol', 'side', 'qty', 'projected_notional', 'reduce_only'],
  },
  {
    method: 'post',
    path: '/budgets/simulate',
    fields: ['equity_usd', 'heat', 'cluster_stress', 'vol_regime', 'position_notional'],
  },
  {
    method: 'put',
    path: '/ops/mode',
    fields: ['mode', 'reason', 'expected_version', 'symbol', 'expires_in_sec'],
  },
  { method: 'post', path: '/ops/rollback', fields: ['reason'] },
  { method: 'post', path: '/test/inject_portfolio_state', fields: ['equity_usd', 'drawdown'] },
  { method: 'post', path: '/ops/ledger/restore', fields: [] },
];
const GETS = [
  '/health',
  '/health/live',
  '/health/ready',
  '/metrics',
  '/budgets',
  '/ops/mode',
  '/ops/ledger',
  '/ops/ledger/verify',
  '/ops/shadow-report',
];

/** Raw JSON text, so values JSON.stringify cannot produce (1e309, duplicate __proto__) reach the server. */
const hostileValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1e309',
    '-1e309',
    'NaN',
    'null',
    'true',
    '[]',
    '{}',
    '""',
    '-0',
    '1e-400',
    '9007199254740993',
  ),
  fc.constantFrom(
    '"__proto__"',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
  ),
  fc.double().map((d) => (Number.isFinite(d) ? String(d) : '0')),
  fc.integer().map(String),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '"BTCUSDT"',
    '"enforce"',
    '"shadow"',
    '"ENFORCE!"',
    '"BUY"',
    '"💥🚀"',
    '"ＢＴＣ"',
    '"a\\u0000b"',
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);

const hostileBody = (fields: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    // known fields with hostile values, plus maybe an unknown or __proto__ key
    fc
      .tuple(
        fc.subarray(fields.length ? fields : ['x']),
        fc.array(hostileValue, { minLength: 6, maxLength: 6 }),
        fc.constantFrom(
          '',
          ',"__proto__":{"polluted":true}',
          ',"unknown_field":1',
          ',"constructor":{"prototype":{"polluted":1}}',
        ),
      )
      .map(
        ([keys, vals, extra]) =>
          `{${keys.map((k, i) => `${JSON.stringify(k)}:${vals[i % vals.length]}`).join(',')}${extra}}`,
      ),
    fc.json({ maxDepth: 4 }),
    hostileValue,
    fc.integer({ min: 50, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 50, max: 3000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    fc.constantFrom('', 'not json', '{', '{"a":1,}', '\u0000', '{"mode":"enforce"'),
  );

const authHeader = fc.oneof(
  fc.constant(`Bearer ${operatorToken}`),
  fc.constant(`Bearer ${viewerToken}`),
  fc.constant(''),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Basic abc',
    `bearer ${operatorToken}`,
    `Bearer ${operatorToken}x`,
    'Bearer \t',
  ),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
);

describe('hostile input: 2xx or 4xx only, nothing written on a 4xx', () => {
  let redis: TestRedis;
  let t: TestApp;

  /** A digest of every key's value except the leader lease (its TTL is renewed in the background). */
  async function digest(): Promise<string> {
    const c = redis.client();
    const keys = (await c.keys('*')).filter((k) => k !== Keys.leaderLease).sort();
    const h = createHash('sha256');
    for (const k of keys) {
      const dump = await c.dumpBuffer(k);
      h.update(k).update(dump ?? Buffer.alloc(0));
    }
    return h.digest('hex');
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      P28_TEST_MODE: '1',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      OPS_API_TOKENS: `${tokenEntry('op', 'operator', operatorToken)},${tokenEntry('view', 'viewer', viewerToken)}`,
    });
    // the startup tick writes the budget status: it must land before the first digest, not inside one
    await t.app.get(BudgetScheduler).settled();
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  for (const ep of ENDPOINTS) {
    it(`${ep.method.toUpperCase()} ${ep.path} never answers 5xx and writes nothing on 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(hostileBody(ep.fields), authHeader, fc.boolean(), async (body, auth, asQuery) => {
          const before = await digest();
          let req = request(t.http)[ep.method](
            asQuery ? `${ep.path}?${new URLSearchParams({ x: body, equity_usd: body })}` : ep.path,
          );
          if (auth) req = req.set('Authorization', auth);
          const res = await req.set('Content-Type', 'application/json').send(asQuery ? '{}' : body);
          expect(
            res.status,
            `${ep.path} ${body.slice(0, 200)} -> ${res.status} ${res.text.slice(0, 300)}`,
          ).toBeLessThan(500);
          expect(res.status).toBeGreaterThanOrEqual(200);
          if (res.status >= 400) expect(await digest(), `${ep.path} wrote on a ${res.status}`).toBe(before);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }),
        { numRuns: 60 },
      );
    });
  }

  it('GET endpoints with hostile query strings and headers never answer 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          ...GETS,
          '/budgets/BTCUSDT',
          '/budgets/%F0%9F%92%A5',
          '/budgets/__proto__',
          '/budgets/..%2F..',
        ),
        fc.dictionary(
          fc.constantFrom('limit', 'before', 'since', '__proto__', 'constructor', 'x'),
          fc.oneof(
            fc.string({ maxLength: 30 }),
            fc.constantFrom('1e309', '-1', 'NaN', '0', '1001', '99999999999999999999'),
          ),
        ),
        authHeader,
        async (path, query, auth) => {
          const before = await digest();
          let req = request(t.http).get(`${path}?${new URLSearchParams(query)}`);
          if (auth) req = req.set('Authorization', auth);
          const res = await req;
          expect(
            res.status,
            `${path} ${JSON.stringify(query)} -> ${res.status} ${res.text.slice(0, 300)}`,
          ).toBeLessThan(500);
          if (res.status >= 400) expect(await digest()).toBe(before);
        },
      ),
      { numRuns: 150 },
    );
  });

  /** ~1 MB of ~120,000 short unknown keys after the real fields. */
  const unknownKeysBody = (real: Record<string, unknown>, limit = 1024 * 1024 - 16) => {
    const parts = Object.entries(real).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    let length = parts.join(',').length + 2;
    for (let i = 0; ; i++) {
      const part = `"${i.toString(36)}":0`;
      if (length + part.length + 1 > limit) break;
      parts.push(part);
      length += part.length + 1;
    }
    return `{${parts.join(',')}}`;
  };

  it('a body of thousands of unknown keys is refused naming only the first few (evaluate, simulate, ops)', async () => {
    const cases: Array<[Method, string, Record<string, unknown>]> = [
      ['post', '/governor/evaluate', { plan_id: 'p', symbol: 'BTCUSDT' }],
      ['post', '/budgets/simulate', { equity_usd: 100000 }],
      ['put', '/ops/mode', { mode: 'shadow', reason: 'unknown keys' }],
    ];
    for (const [method, path, real] of cases) {
      // the largest body each route takes
      const body = unknownKeysBody(real, 8 * 1024);
      expect(body.split(',').length).toBeGreaterThan(1000);
      const before = await digest();
      const res = await request(t.http)
        [method](path)
        .set('Authorization', `Bearer ${operatorToken}`)
        .set('Content-Type', 'application/json')
        .send(body);
      expect(res.status, path).toBe(400);
      expect(res.body.fields, path).toEqual(['0', '1', '2', '3', '4']);
      expect(res.body.message, path).toHaveLength(5);
      expect(await digest()).toBe(before);
    }
  });

  it('a ~1 MB body of ~120,000 unknown keys is refused at once, and a decision sent meanwhile is not held up', async () => {
    const hostile = unknownKeysBody({ plan_id: 'p', symbol: 'BTCUSDT' });
    expect(hostile.split(',').length).toBeGreaterThan(100_000);
    const started = performance.now();
    const [refused, decided] = await Promise.all([
      request(t.http).post('/governor/evaluate').set('Content-Type', 'application/json').send(hostile),
      request(t.http).post('/governor/evaluate').send({ plan_id: 'legit', symbol: 'BTCUSDT' }),
    ]);
    const ms = performance.now() - started;
    expect(refused.status).toBe(413);
    expect(decided.status).toBe(200);
    // it took ~8 s; supertest sending 1 MB is most of what is left
    expect(ms).toBeLessThan(1000);
  });

  it('evaluate, simulate and the ops routes take at most 8 KB (413 beyond); a normal body still passes', async () => {
    const pad = (n: number) => 'x'.repeat(n);
    const cases: Array<[Method, string, Record<string, unknown>]> = [
      ['post', '/governor/evaluate', { plan_id: 'p', symbol: 'BTCUSDT', note: pad(9000) }],
      ['post', '/budgets/simulate', { equity_usd: 1, note: pad(9000) }],
      ['put', '/ops/mode', { mode: 'shadow', reason: pad(9000) }],
      ['post', '/ops/rollback', { reason: pad(9000) }],
      ['post', '/test/inject_portfolio_state', { equity_usd: 1, note: pad(9000) }],
    ];
    for (const [method, path, body] of cases) {
      const before = await digest();
      const res = await request(t.http)
        [method](path)
        .set('Authorization', `Bearer ${operatorToken}`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));
      expect(res.status, path).toBe(413);
      expect(await digest()).toBe(before);
    }
    await request(t.http).post('/governor/evaluate').send({ plan_id: 'p', symbol: 'BTCUSDT' }).expect(200);
    await request(t.http)
      .post('/budgets/simulate')
      .set('Authorization', `Bearer ${viewerToken}`)
      .send({ equity_usd: 100000 })
      .expect(200);
  });

  it('a body over 1 MB answers 413 on every write endpoint and writes nothing', async () => {
    const big = JSON.stringify({ reason: 'x'.repeat(1024 * 1024 + 1) });
    for (const ep of ENDPOINTS) {
      const before = await digest();
      const res = await request(t.http)
        [ep.method](ep.path)
        .set('Authorization', `Bearer ${operatorToken}`)
        .set('Content-Type', 'application/json')
        .send(big);
      expect(res.status, ep.path).toBe(413);
      expect(await digest()).toBe(before);
    }
  });
});
