import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { GateService } from '../../../src/governor-gate/gate.service.js';
import { PlanConsumer } from '../../../src/governor-gate/plan-consumer.js';
import { ModeReader } from '../../../src/platform/mode/mode-reader.js';
import { sha256Hex } from '../../../src/platform/auth/token-registry.js';
import { ModeCache } from '../../../src/ops/mode/mode-cache.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const VIEWER_TOKEN = randomBytes(16).toString('hex');
const SERVICE_TOKEN = randomBytes(16).toString('hex');
const GATE_TIMEOUT_MS = 50;

/** Value of one sample of /metrics, 0 when the series does not exist yet. */
async function metric(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await request(t.http).get('/metrics').expect(200)).text;
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const labelPart = open >= 0 ? line.slice(open + 1, line.indexOf('}')) : '';
    const have = labelPart ? labelPart.split(',') : [];
    if (want.every((w) => have.includes(w)) && have.length === want.length) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

describe('Gate 0: POST /governor/evaluate against a real Redis', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  const clock = new ManualClock();
  const nowSec = () => clock.nowSec();

  const setMode = (mode: 'shadow' | 'enforce') =>
    r.hset(Keys.mode, {
      mode,
      version: 1,
      changed_at: nowSec(),
      changed_by: 'test',
      operation_id: 'OPS-T-001',
    });
  const writeBudget = (symbol: string, budget: number, ageSec = 2) =>
    r.hset(Keys.budget(symbol), {
      symbol,
      budget_usd: budget,
      timestamp: nowSec() - ageSec,
      position_notional: 0,
      mode: 'shadow',
    });
  const writeViolation = (symbol: string, ageSec = 1) =>
    r.hset(Keys.violation(symbol), {
      symbol,
      position_notional: 2500,
      budget_usd: 1500,
      over_budget: 1000,
      timestamp: nowSec() - ageSec,
    });
  const evaluate = (body: Record<string, unknown>) =>
    request(t.http).post('/governor/evaluate').set('Authorization', `Bearer ${SERVICE_TOKEN}`).send(body);

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        P28_MODE: 'shadow',
        // the tests write the mode hash directly; the mode cache is refreshed by hand where one needs it
        MODE_REFRESH_MS: '10000',
        GATE_TIMEOUT_MS: String(GATE_TIMEOUT_MS),
        OPS_API_TOKENS: `viewer1:viewer:${sha256Hex(VIEWER_TOKEN)},governor:service:${sha256Hex(SERVICE_TOKEN)}`,
      },
      { clock },
    );
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    clock.set(Date.now());
    await redis.flush();
  });
  afterEach(() => redis.thaw());

  it('enforce + fresh budget + fresh violation → BLOCK p28_budget_violation, counted', async () => {
    await setMode('enforce');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    const before = await metric(t, 'quantum_govern_block_total', {
      symbol: 'BTCUSDT',
      reason: 'p28_budget_violation',
    });
    const res = await evaluate({ plan_id: 'plan-1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.01 }).expect(200);
    expect(res.body).toEqual({
      decision: 'BLOCK',
      reason: 'p28_budget_violation',
      mode: 'enforce',
      enforced: true,
      budget_usd: 1500,
      position_notional: 0,
    });
    const after = await metric(t, 'quantum_govern_block_total', {
      symbol: 'BTCUSDT',
      reason: 'p28_budget_violation',
    });
    expect(after).toBe(before + 1);
    expect(
      await metric(t, 'p28_gate_decisions_total', { decision: 'BLOCK', reason: 'p28_budget_violation' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      t.logs.some((l) => l.msg === 'plan blocked' && l.plan_id === 'plan-1' && l.symbol === 'BTCUSDT'),
    ).toBe(true);
  });

  it('a reduce_only plan passes in enforce despite the violation', async () => {
    await setMode('enforce');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '0.01', side: 'LONG', mark_price: '50000' });
    const res = await evaluate({ plan_id: 'plan-r', symbol: 'BTCUSDT', reduce_only: true }).expect(200);
    expect(res.body).toMatchObject({ decision: 'ALLOW', reason: 'reduces_risk', enforced: true });
  });

  it("does not take the plan's word: projected_notional 0 or reduce_only on a BUY into a long still blocks", async () => {
    await setMode('enforce');
    await writeBudget('ETHUSDT', 1000);
    // an entry position as the apply layer writes it: quantity, side, entry_price (no position_amt)
    await r.hset(Keys.position('ETHUSDT'), { quantity: '0.3', side: 'LONG', entry_price: '3000' });
    // 0.3 + 0.1 = 0.4 × 3000 = 1200 > 1000, whatever the plan says
    for (const claim of [{ projected_notional: 0 }, { reduce_only: true }, {}]) {
      const res = await evaluate({ plan_id: 'lie', symbol: 'ETHUSDT', side: 'BUY', qty: 0.1, ...claim });
      expect(res.body, JSON.stringify(claim)).toMatchObject({
        decision: 'BLOCK',
        reason: 'p28_projected_over_budget',
        position_notional: 900,
      });
    }
    // the honest reduction passes
    const sell = await evaluate({
      plan_id: 'ok',
      symbol: 'ETHUSDT',
      side: 'SELL',
      qty: 0.1,
      reduce_only: true,
    });
    expect(sell.body).toMatchObject({ decision: 'ALLOW', reason: 'reduces_risk' });
    // reduce_only with nothing to reduce is judged like any plan
    await writeViolation('SOLUSDT');
    await writeBudget('SOLUSDT', 1000);
    const none = await evaluate({ plan_id: 'flat', symbol: 'SOLUSDT', reduce_only: true });
    expect(none.body).toMatchObject({ decision: 'BLOCK', reason: 'p28_budget_violation' });
  });

  it('shadow: the same plan is allowed as shadow_mode and shows in GET /ops/shadow-report', async () => {
    await setMode('shadow');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    await r.hset(Keys.position('BTCUSDT'), { position_amt: '1', side: 'LONG', mark_price: '2000' });
    const wouldBefore = await metric(t, 'p28_shadow_would_block_total', { symbol: 'BTCUSDT' });
    const res = await evaluate({ plan_id: 'plan-s', symbol: 'BTCUSDT', side: 'BUY', qty: 0.5 }).expect(200);
    expect(res.body).toEqual({
      decision: 'ALLOW',
      reason: 'shadow_mode',
      mode: 'shadow',
      enforced: false,
      budget_usd: 1500,
      position_notional: 2000,
      fail_open: 'shadow_mode',
    });
    expect(await metric(t, 'p28_shadow_would_block_total', { symbol: 'BTCUSDT' })).toBe(wouldBefore + 1);
    expect(await metric(t, 'p28_gate_fail_open_total', { reason: 'shadow_mode' })).toBeGreaterThanOrEqual(1);

    // the record is written after the answer
    await waitFor(async () => (await r.xlen(Keys.shadowWouldBlock)) === 1, { what: 'shadow record' });
    const [[, fields]] = await r.xrange(Keys.shadowWouldBlock, '-', '+');
    const rec = Object.fromEntries(
      fields.reduce<string[][]>((a, v, i) => (i % 2 ? a : [...a, [v, fields[i + 1]]]), []),
    );
    expect(rec).toMatchObject({
      symbol: 'BTCUSDT',
      plan_id: 'plan-s',
      reason: 'p28_budget_violation',
      budget: '1500',
      notional: '3000',
      time: String(nowSec()),
    });

    const auth = { Authorization: `Bearer ${VIEWER_TOKEN}` };
    const report = await request(t.http).get('/ops/shadow-report').set(auth).expect(200);
    expect(report.body.totals).toMatchObject({ count: 1, symbols: 1, max_over_budget: 1500 });
    expect(report.body.symbols.BTCUSDT).toEqual({
      count: 1,
      records: 1,
      max_over_budget: 1500,
      last_seen: nowSec(),
    });

    // `since` after the record excludes it
    const later = await request(t.http)
      .get(`/ops/shadow-report?since=${Math.floor(Date.now() / 1000) + 5}`)
      .set(auth)
      .expect(200);
    expect(later.body.totals.count).toBe(0);

    await request(t.http).get('/ops/shadow-report').expect(401);
    const bad = await request(t.http).get('/ops/shadow-report?since=yesterday').set(auth).expect(400);
    expect(bad.body.fields).toEqual(['since']);
    // far beyond any epoch second: refused, not passed to Redis as a malformed stream id (was a 500)
    const huge = await request(t.http)
      .get('/ops/shadow-report?since=99999999999999999999')
      .set(auth)
      .expect(400);
    expect(huge.body.fields).toEqual(['since']);
    const negative = await request(t.http).get('/ops/shadow-report?since=-1').set(auth).expect(400);
    expect(negative.body.fields).toEqual(['since']);
  });

  it('shadow with no budget answers no_budget (it would not have blocked anyway) and records nothing', async () => {
    await setMode('shadow');
    await writeViolation('BTCUSDT');
    const res = await evaluate({ plan_id: 'plan-nb', symbol: 'BTCUSDT' }).expect(200);
    expect(res.body).toMatchObject({ decision: 'ALLOW', reason: 'no_budget', fail_open: 'no_budget' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await r.xlen(Keys.shadowWouldBlock)).toBe(0);
  });

  it('projected notional over budget blocks in enforce with p28_projected_over_budget', async () => {
    await setMode('enforce');
    await writeBudget('ETHUSDT', 1000);
    const over = await evaluate({ plan_id: 'plan-p', symbol: 'ETHUSDT', projected_notional: 1000.5 }).expect(
      200,
    );
    expect(over.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      enforced: true,
    });
    const within = await evaluate({ plan_id: 'plan-q', symbol: 'ETHUSDT', projected_notional: 999 }).expect(
      200,
    );
    expect(within.body).toMatchObject({ decision: 'ALLOW', reason: 'within_budget' });
    // computed from the position: (2 + 1) × 400 = 1200 > 1000
    await r.hset(Keys.legacyPosition('ETHUSDT'), { position_amt: '2', current_price: '400' });
    const computed = await evaluate({ plan_id: 'plan-c', symbol: 'ETHUSDT', side: 'BUY', qty: 1 }).expect(
      200,
    );
    expect(computed.body).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_projected_over_budget',
      position_notional: 800,
    });
  });

  it('a per-symbol override wins over the global mode (read from the overrides hash)', async () => {
    await setMode('shadow');
    await r.hset(Keys.modeOverrides, 'BTCUSDT', 'enforce');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    await writeBudget('ETHUSDT', 1500);
    await writeViolation('ETHUSDT');
    const btc = await evaluate({ plan_id: 'o1', symbol: 'BTCUSDT' }).expect(200);
    expect(btc.body).toMatchObject({ decision: 'BLOCK', mode: 'enforce' });
    const eth = await evaluate({ plan_id: 'o2', symbol: 'ETHUSDT' }).expect(200);
    expect(eth.body).toMatchObject({ decision: 'ALLOW', mode: 'shadow', reason: 'shadow_mode' });
  });

  it('metric labels: 1,000 junk symbols land in _other and cannot crowd out a budgeted symbol', async () => {
    await setMode('enforce');
    await writeBudget('BTCUSDT', 1500);
    const before = await metric(t, 'quantum_govern_allow_total', { symbol: 'BTCUSDT' });
    for (let i = 0; i < 1000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => evaluate({ plan_id: `j${i + j}`, symbol: `JUNK${i + j}` })),
      );
    }
    for (const junk of ['CONSTRUCTOR', 'HASOWNPROPERTY', 'TOSTRING']) {
      await evaluate({ plan_id: 'p', symbol: junk }).expect(200);
    }
    await evaluate({ plan_id: 'real', symbol: 'BTCUSDT', projected_notional: 10 }).expect(200);
    expect(await metric(t, 'quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBe(before + 1);
    const text = (await request(t.http).get('/metrics').expect(200)).text;
    expect(text).not.toMatch(/symbol="(JUNK|CONSTRUCTOR|HASOWNPROPERTY|TOSTRING)/);
  });

  it('without a mode hash, the mode this replica last read decides: P28_MODE (shadow here) when none', async () => {
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    const cache = t.app.get(ModeCache);
    await cache.refresh(); // no hash: P28_MODE is seeded and read
    await r.del(Keys.mode);
    const res = await evaluate({ plan_id: 'm0', symbol: 'BTCUSDT' }).expect(200);
    expect(res.body).toMatchObject({ decision: 'ALLOW', mode: 'shadow', reason: 'shadow_mode' });

    // enforce read, then the hash gone (Redis lost its data): enforce holds until the mode is re-seeded
    await setMode('enforce');
    await cache.refresh();
    await r.del(Keys.mode);
    const held = await evaluate({ plan_id: 'm1', symbol: 'BTCUSDT' }).expect(200);
    expect(held.body).toMatchObject({ decision: 'BLOCK', mode: 'enforce', reason: 'p28_budget_violation' });
  });

  it('no budget and stale budget each allow with their reason (stale by moving the clock)', async () => {
    await setMode('enforce');
    await writeViolation('SOLUSDT', 0);
    const noBudgetBefore = await metric(t, 'p28_gate_fail_open_total', { reason: 'no_budget' });
    const allowBefore = await metric(t, 'quantum_govern_allow_total', { symbol: '_other' });
    const none = await evaluate({ plan_id: 'n1', symbol: 'SOLUSDT' }).expect(200);
    expect(none.body).toEqual({
      decision: 'ALLOW',
      reason: 'no_budget',
      mode: 'enforce',
      enforced: false,
      fail_open: 'no_budget',
    });
    expect(await metric(t, 'p28_gate_fail_open_total', { reason: 'no_budget' })).toBe(noBudgetBefore + 1);
    // no budget hash: not a symbol the engine knows, so not a label of its own
    expect(await metric(t, 'quantum_govern_allow_total', { symbol: '_other' })).toBe(allowBefore + 1);
    expect(await metric(t, 'quantum_govern_allow_total', { symbol: 'SOLUSDT' })).toBe(0);

    await writeBudget('SOLUSDT', 800, 0);
    clock.advance(59_000);
    await writeViolation('SOLUSDT', 0); // at the moved clock's time, so only the budget ages
    expect((await evaluate({ plan_id: 'n2', symbol: 'SOLUSDT' }).expect(200)).body.decision).toBe('BLOCK');
    clock.advance(2_000);
    const stale = await evaluate({ plan_id: 'n3', symbol: 'SOLUSDT' }).expect(200);
    expect(stale.body).toEqual({
      decision: 'ALLOW',
      reason: 'stale_budget',
      mode: 'enforce',
      enforced: false,
      budget_usd: 800,
      position_notional: 0,
      fail_open: 'stale_budget',
    });
  });

  it('a key of the wrong type reads as that input missing, not as Redis unavailable', async () => {
    await setMode('enforce');
    await r.set(Keys.budget('BTCUSDT'), 'not a hash');
    await r.set(Keys.position('BTCUSDT'), 'not a hash either');
    const res = await evaluate({ plan_id: 'w1', symbol: 'BTCUSDT' }).expect(200);
    expect(res.body).toMatchObject({ decision: 'ALLOW', reason: 'no_budget', mode: 'enforce' });
    await r.del(Keys.budget('BTCUSDT'));
    await writeBudget('BTCUSDT', 1500);
    await r.set(Keys.violation('BTCUSDT'), 'x');
    const judged = await evaluate({ plan_id: 'w2', symbol: 'BTCUSDT', projected_notional: 2000 }).expect(200);
    expect(judged.body).toMatchObject({ decision: 'BLOCK', reason: 'p28_projected_over_budget' });
  });

  it('answers 400 naming the field for bad bodies', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ symbol: 'BTCUSDT' }, 'plan_id'],
      [{ plan_id: '', symbol: 'BTCUSDT' }, 'plan_id'],
      [{ plan_id: 'x'.repeat(129), symbol: 'BTCUSDT' }, 'plan_id'],
      [{ plan_id: 7, symbol: 'BTCUSDT' }, 'plan_id'],
      [{ plan_id: 'a' }, 'symbol'],
      [{ plan_id: 'a', symbol: 'btc usdt' }, 'symbol'],
      [{ plan_id: 'a', symbol: 'BTC:*' }, 'symbol'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', side: 'HOLD' }, 'side'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', qty: -1 }, 'qty'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', qty: '1' }, 'qty'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', projected_notional: -0.01 }, 'projected_notional'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', reduce_only: 'yes' }, 'reduce_only'],
      [{ plan_id: 'a', symbol: 'BTCUSDT', leverage: 10 }, 'leverage'],
    ];
    for (const [body, field] of cases) {
      const res = await evaluate(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.fields, JSON.stringify(body)).toEqual([field]);
      expect(res.body.message.some((m: string) => m.startsWith(`${field}:`))).toBe(true);
    }
    // a number too large for a double arrives as Infinity and is refused, not written anywhere
    const inf = await request(t.http)
      .post('/governor/evaluate')
      .set('content-type', 'application/json')
      .send('{"plan_id":"a","symbol":"BTCUSDT","qty":1e400}');
    expect(inf.status).toBe(400);
    expect(inf.body.fields).toEqual(['qty']);
  });

  it('as a Fastify route it keeps the app-wide edges: 400 shape, depth, malformed JSON, media type, methods', async () => {
    const decisions = () => metric(t, 'p28_gate_latency_seconds_count');
    const decided = await decisions();
    // the same 400 body as the ValidationPipe's on the Nest routes
    const bad = await evaluate({ plan_id: 'a', symbol: 'BTCUSDT', side: 'HOLD', qty: -1 }).expect(400);
    expect(bad.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['side: side must be BUY or SELL', 'qty: qty must be a finite number >= 0'],
      fields: ['side', 'qty'],
    });
    // the app's depth hook runs before the route
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = { x: deep };
    const nested = await evaluate({ plan_id: 'a', symbol: 'BTCUSDT', extra: deep }).expect(400);
    expect(nested.body.fields).toEqual(['body']);
    const post = () => request(t.http).post('/governor/evaluate');
    await post().set('content-type', 'application/json').send('{"plan_id":').expect(400);
    await post().set('content-type', 'text/csv').send('a,b').expect(415);
    await request(t.http).get('/governor/evaluate').expect(404);
    // a refused body is not a decision
    expect(await decisions()).toBe(decided);
    await evaluate({ plan_id: 'ok', symbol: 'BTCUSDT' }).expect(200);
    expect(await decisions()).toBe(decided + 1);
    // GateService never throws; were it to, Nest's exception layer answers, as on any route
    vi.spyOn(t.app.get(GateService), 'evaluate').mockRejectedValueOnce(new Error('unexpected'));
    const crashed = await evaluate({ plan_id: 'boom', symbol: 'BTCUSDT' }).expect(500);
    expect(crashed.body).toEqual({ statusCode: 500, message: 'Internal server error' });
    await evaluate({ plan_id: 'after', symbol: 'BTCUSDT' }).expect(200);
  });

  it('a frozen Redis fails open within GATE_TIMEOUT_MS and the gate recovers after thaw', async () => {
    if (!redis.controllable) return;
    await setMode('enforce');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    await evaluate({ plan_id: 'warm', symbol: 'BTCUSDT' }).expect(200);
    const timeoutsBefore = await metric(t, 'p28_gate_fail_open_total', { reason: 'timeout' });

    redis.freeze();
    const timings: number[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await evaluate({ plan_id: `frozen-${i}`, symbol: 'BTCUSDT' }).expect(200);
        timings.push(performance.now() - started);
        expect(res.body).toMatchObject({
          decision: 'ALLOW',
          enforced: false,
          fail_open: 'timeout',
          reason: 'timeout',
        });
      }
      // three timeouts in a row open the read breaker: the next plans do not wait on Redis at all
      expect(await metric(t, 'p28_gate_breaker_open')).toBe(1);
    } finally {
      redis.thaw();
    }
    console.log(`frozen-Redis evaluate round trips (ms): ${timings.map((x) => x.toFixed(1)).join(', ')}`);
    for (const ms of timings) expect(ms).toBeLessThan(GATE_TIMEOUT_MS + 150);
    for (const ms of timings.slice(0, 3)) expect(ms).toBeGreaterThanOrEqual(GATE_TIMEOUT_MS - 1);
    for (const ms of timings.slice(3)) expect(ms).toBeLessThan(GATE_TIMEOUT_MS / 2);
    expect(await metric(t, 'p28_gate_fail_open_total', { reason: 'timeout' })).toBe(timeoutsBefore + 5);
    // five fail-opens in a row make one log line, not five
    const lines = t.logs.filter((l) => l.msg === 'gate failed open' && l.reason === 'timeout');
    expect(lines.length).toBe(1);

    await waitFor(
      async () => (await evaluate({ plan_id: 'thawed', symbol: 'BTCUSDT' })).body.decision === 'BLOCK',
      { what: 'the gate to judge again after thaw' },
    );
    expect(await metric(t, 'p28_gate_breaker_open')).toBe(0);
  });

  it('a stopped Redis fails open as redis_unavailable at once, and the gate recovers when it is back', async () => {
    if (!redis.controllable) return;
    await redis.stop();
    try {
      // the connection notices the close
      await waitFor(
        async () =>
          (await evaluate({ plan_id: 'down', symbol: 'BTCUSDT' })).body.reason === 'redis_unavailable',
        {
          what: 'redis_unavailable',
        },
      );
      const started = performance.now();
      const res = await evaluate({ plan_id: 'down-2', symbol: 'BTCUSDT' }).expect(200);
      const ms = performance.now() - started;
      expect(res.body).toEqual({
        decision: 'ALLOW',
        reason: 'redis_unavailable',
        // Redis is what cannot be read: the mode is the mode reader's last known one
        mode: t.app.get(ModeReader).effectiveMode('BTCUSDT'),
        enforced: false,
        fail_open: 'redis_unavailable',
      });
      expect(ms).toBeLessThan(GATE_TIMEOUT_MS + 150);
    } finally {
      await redis.start();
    }
    await setMode('enforce');
    await writeBudget('BTCUSDT', 1500);
    await writeViolation('BTCUSDT');
    await waitFor(
      async () => (await evaluate({ plan_id: 'back', symbol: 'BTCUSDT' })).body.decision === 'BLOCK',
      {
        timeoutMs: 8000,
        what: 'the gate to reconnect',
      },
    );
  });

  it('does not consume plans unless GATE_CONSUME_PLANS is set', () => {
    expect(t.app.get(PlanConsumer).running).toBe(false);
  });
});
