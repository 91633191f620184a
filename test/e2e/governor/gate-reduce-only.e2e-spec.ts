import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/platform/clock/clock.js';
import { PlanConsumer } from '../../../src/governor-gate/plan-consumer.js';
import { newToken, tokenEntry } from '../../../src/platform/auth/token-entries.js';
import { ModeExpiryService } from '../../../src/ops/mode/mode-expiry.service.js';
import { LeaderService } from '../../../src/platform/redis/leader.service.js';
import { Keys } from '../../../src/platform/redis/keys.js';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

/** The kill switch (CONTRACT §4): reduce_only blocks every plan that does not lower |position|. */
describe('reduce_only mode (kill switch) on the HTTP gate, the consumer, a frozen Redis and an expiry', () => {
  let redis: TestRedis;
  let r: Redis;
  let t: TestApp;
  let clock: ManualClock;
  const op = newToken();
  const svc = newToken();
  const auth = { authorization: `Bearer ${op}` };
  const service = { authorization: `Bearer ${svc}` };
  const blocked = { decision: 'BLOCK', reason: 'p28_reduce_only_mode', mode: 'reduce_only', enforced: true };

  const putMode = (body: Record<string, unknown>) =>
    request(t.http).put('/ops/mode').set(auth).send(body).expect(200);
  const evaluate = async (body: Record<string, unknown>) =>
    (await request(t.http).post('/governor/evaluate').set(service).send(body).expect(200)).body;
  const metric = async (line: string) => {
    const text = (await request(t.http).get('/metrics').expect(200)).text;
    return text.split('\n').find((l) => l.startsWith(line + ' '));
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client();
    clock = new ManualClock(Date.now());
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        P28_MODE: 'shadow',
        GATE_CONSUME_PLANS: '1',
        // a loaded machine must not turn a plain read into a timeout
        GATE_TIMEOUT_MS: '1000',
        OPS_API_TOKENS: [tokenEntry('alice', 'operator', op), tokenEntry('governor', 'service', svc)].join(
          ',',
        ),
      },
      { clock },
    );
    await waitFor(() => t.app.get(LeaderService).isLeader(), { what: 'leadership' });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    const now = clock.nowSec();
    // BTCUSDT flat with a generous fresh budget; SOLUSDT long 2 @ 100; ETHUSDT has no budget at all
    await r.hset(Keys.budget('BTCUSDT'), { budget_usd: 1_000_000, timestamp: now, price: 100 });
    await r.hset(Keys.budget('SOLUSDT'), { budget_usd: 1_000_000, timestamp: now });
    await r.hset('quantum:state:positions:SOLUSDT', { position_amt: '2', mark_price: '100' });
  });
  afterEach(async () => {
    redis.thaw();
    // back to shadow for the next test, then a clean Redis (the store re-seeds and follows)
    await request(t.http).post('/ops/rollback').set(auth).send({ reason: 'test cleanup' });
  });

  it('HTTP: a BUY on a flat symbol is blocked, a SELL on a long passes, no budget also blocks', async () => {
    const res = await putMode({ mode: 'reduce_only', reason: 'kill switch drill' });
    expect(res.body).toMatchObject({ mode: 'reduce_only' });
    expect((await request(t.http).get('/ops/mode').set(auth).expect(200)).body.mode).toBe('reduce_only');

    expect(await evaluate({ plan_id: 'b1', symbol: 'BTCUSDT', side: 'BUY', qty: 0.001 })).toMatchObject(
      blocked,
    );
    expect(await evaluate({ plan_id: 'b2', symbol: 'ETHUSDT', side: 'BUY', qty: 1 })).toMatchObject(blocked);
    // a claim the position does not back is not believed
    expect(
      await evaluate({ plan_id: 'b3', symbol: 'SOLUSDT', side: 'BUY', qty: 1, reduce_only: true }),
    ).toMatchObject(blocked);
    expect(await evaluate({ plan_id: 's1', symbol: 'SOLUSDT', side: 'SELL', qty: 1 })).toMatchObject({
      decision: 'ALLOW',
      reason: 'reduces_risk',
      mode: 'reduce_only',
      enforced: true,
    });
    // a caller without a token gets the same decision
    const anon = await request(t.http)
      .post('/governor/evaluate')
      .send({ plan_id: 'a1', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })
      .expect(200);
    expect(anon.body).toEqual(blocked);

    expect(await metric('p28_reduce_only_mode')).toBe('p28_reduce_only_mode 1');
    expect(await metric('p28_enforce_mode')).toBe('p28_enforce_mode 1');
    expect(
      await metric('p28_gate_decisions_total{decision="BLOCK",reason="p28_reduce_only_mode"}'),
    ).toBeDefined();
    const [entry] = (await request(t.http).get('/ops/ledger?limit=1').set(auth).expect(200)).body.entries;
    expect(entry).toMatchObject({ operation_name: 'set-mode', from_mode: 'shadow', to_mode: 'reduce_only' });
    expect((await request(t.http).get('/ops/ledger/verify').set(auth).expect(200)).body).toMatchObject({
      ok: true,
      breaks: [],
    });

    await request(t.http).post('/ops/rollback').set(auth).send({ reason: 'drill over' }).expect(200);
    expect(await metric('p28_reduce_only_mode')).toBe('p28_reduce_only_mode 0');
    expect(await metric('p28_enforce_mode')).toBe('p28_enforce_mode 0');
    expect((await evaluate({ plan_id: 'b4', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })).decision).toBe(
      'ALLOW',
    );
  });

  it('a per-symbol override, including on a symbol named like an Object.prototype member', async () => {
    await putMode({ mode: 'reduce_only', symbol: 'BTCUSDT', reason: 'one symbol only' });
    // another service wrote an override under a junk name: it is just a symbol
    await r.hset(Keys.modeOverrides, 'constructor', 'reduce_only');
    await request(t.http)
      .put('/ops/mode')
      .set(auth)
      .send({ mode: 'enforce', symbol: 'ETHUSDT', reason: 'sync' });
    expect(await evaluate({ plan_id: 'o1', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })).toMatchObject(blocked);
    expect((await evaluate({ plan_id: 'o3', symbol: 'SOLUSDT', side: 'BUY', qty: 1 })).decision).toBe(
      'ALLOW',
    );
    expect(await metric('p28_mode_overrides{mode="reduce_only"}')).toBe(
      'p28_mode_overrides{mode="reduce_only"} 2',
    );
    expect(await metric('p28_reduce_only_mode')).toBe('p28_reduce_only_mode 0');
    const view = (await request(t.http).get('/ops/mode').set(auth).expect(200)).body;
    expect(Object.keys(view.overrides).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'constructor']);
    expect(view.mode).toBe('shadow');
  });

  it('the plan consumer blocks an increasing plan and permits a reduction', async () => {
    const consumer = t.app.get(PlanConsumer);
    expect(consumer.running).toBe(true);
    await putMode({ mode: 'reduce_only', reason: 'consumer drill' });
    await waitFor(async () => (await r.exists(Keys.planStream)) === 1 || true, { what: 'stream' });
    await r.xadd(
      Keys.planStream,
      '*',
      'plan_id',
      'c-buy',
      'symbol',
      'BTCUSDT',
      'decision',
      'EXECUTE',
      'side',
      'BUY',
      'qty',
      '0.01',
    );
    await r.xadd(
      Keys.planStream,
      '*',
      'plan_id',
      'c-sell',
      'symbol',
      'SOLUSDT',
      'decision',
      'EXECUTE',
      'side',
      'SELL',
      'qty',
      '1',
    );
    await waitFor(
      async () =>
        (await r.exists(Keys.block('c-buy'))) === 1 && (await r.exists(Keys.permit('c-sell'))) === 1,
      {
        what: 'the consumer to decide both plans',
      },
    );
    expect(JSON.parse((await r.get(Keys.block('c-buy'))) as string)).toMatchObject({
      reason: 'p28_reduce_only_mode',
      symbol: 'BTCUSDT',
    });
    expect(await r.exists(Keys.permit('c-buy'))).toBe(0);
  });

  it('open /health does not show the consumer name (hostname:pid)', async () => {
    const res = await request(t.http).get('/health');
    const name = t.app.get(PlanConsumer).consumerName;
    expect(res.text).toContain('plan_consumer');
    expect(res.text).not.toContain(name);
    expect(res.text).not.toContain(`${hostname()}:${process.pid}`);
  });

  it('fails closed from the cached mode while Redis is frozen (timeouts, then the open breaker)', async () => {
    if (!redis.controllable) return;
    await putMode({ mode: 'reduce_only', reason: 'freeze drill' });
    expect(await evaluate({ plan_id: 'f0', symbol: 'SOLUSDT', side: 'SELL', qty: 1 })).toMatchObject({
      decision: 'ALLOW',
    });
    redis.freeze();
    for (let i = 0; i < 5; i++) {
      const d = await evaluate({ plan_id: `f${i + 1}`, symbol: 'BTCUSDT', side: 'BUY', qty: 0.001 });
      expect(d).toMatchObject(blocked);
      expect(d.fail_open).toBeUndefined();
    }
    // a reduction cannot be verified without the position: the operator asked for this mode
    expect(await evaluate({ plan_id: 'f9', symbol: 'SOLUSDT', side: 'SELL', qty: 1 })).toMatchObject(blocked);
    redis.thaw();
  });

  it('an enforce set on top of reduce_only with an expiry returns to reduce_only', async () => {
    await putMode({ mode: 'reduce_only', reason: 'kill switch' });
    const res = await putMode({ mode: 'enforce', reason: 'trial enforce', expires_in_sec: 60 });
    expect(res.body).toMatchObject({ mode: 'enforce', expires_at: clock.nowSec() + 60 });
    expect(await r.hget(Keys.mode, 'revert_to')).toBe('reduce_only');
    expect((await evaluate({ plan_id: 'e1', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })).decision).toBe(
      'ALLOW',
    );

    clock.advance(60_000);
    // due: the gate reads the reverted mode even before the reverter has run
    expect(await evaluate({ plan_id: 'e2', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })).toMatchObject(blocked);
    await t.app.get(ModeExpiryService).check();
    await waitFor(
      async () => (await request(t.http).get('/ops/mode').set(auth)).body.mode === 'reduce_only',
      {
        what: 'auto-revert to reduce_only',
      },
    );
    const [entry] = (await request(t.http).get('/ops/ledger?limit=1').set(auth).expect(200)).body.entries;
    expect(entry).toMatchObject({
      operation_name: 'auto-revert',
      actor: 'system',
      from_mode: 'enforce',
      to_mode: 'reduce_only',
    });
    expect(await r.hget(Keys.mode, 'revert_to')).toBeNull();
    expect((await request(t.http).get('/ops/ledger/verify').set(auth).expect(200)).body.ok).toBe(true);
    expect(await evaluate({ plan_id: 'e3', symbol: 'BTCUSDT', side: 'BUY', qty: 1 })).toMatchObject(blocked);
  });

  it('an expiring reduce_only reverts to the enforce it replaced', async () => {
    await putMode({ mode: 'enforce', reason: 'enforcing' });
    const res = await putMode({ mode: 'reduce_only', reason: 'one hour kill switch', expires_in_sec: 3600 });
    expect(res.body).toMatchObject({ mode: 'reduce_only', expires_at: clock.nowSec() + 3600 });
    clock.advance(3_600_000);
    await t.app.get(ModeExpiryService).check();
    await waitFor(async () => (await request(t.http).get('/ops/mode').set(auth)).body.mode === 'enforce', {
      what: 'auto-revert to enforce',
    });
  });
});
