import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';
import { Keys } from '../../src/platform/redis/keys.js';
import { buildProject, runCli, startBuiltService, type Built, type BuiltService } from '../support/built.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/** p28ctl from the build output against the built service and a real Redis, as on a production host. */
describe('p28ctl against a built service', () => {
  let redis: TestRedis;
  let built: Built;
  let svc: BuiltService;
  const operator = newToken();
  const viewer = newToken();
  let env: Record<string, string>;

  beforeAll(async () => {
    [redis, built] = await Promise.all([startTestRedis(), buildProject()]);
    const now = Math.floor(Date.now() / 1000);
    await redis.client().hset(Keys.portfolioState, { equity_usd: '100000', drawdown: '0', timestamp: now });
    await redis
      .client()
      .hset(Keys.position('BTCUSDT'), { position_amt: '0.1', side: 'LONG', mark_price: '50000' });
    svc = await startBuiltService(built, {
      REDIS_URL: redis.url,
      OPS_API_TOKENS: [tokenEntry('alice', 'operator', operator), tokenEntry('vera', 'viewer', viewer)].join(
        ',',
      ),
      HEAT_GATE_METRICS_URL: 'http://127.0.0.1:9/metrics',
      HEAT_TIMEOUT_MS: '100',
      BUDGET_COMPUTE_INTERVAL_SEC: '0.5',
    });
    env = { P28_URL: svc.url, P28_TOKEN: operator };
  }, 90_000);

  afterAll(async () => {
    await svc?.stop();
    built?.remove();
    await redis?.close();
  });

  it('status shows the mode, health and a verified ledger', async () => {
    const r = await runCli(built, ['status'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mode\s+shadow$/m);
    expect(r.stdout).toMatch(/^redis\s+connected$/m);
    expect(r.stdout).toMatch(/^ledger\s+ok/m);
  });

  it('mode enforce with an expiry, then a stale --expect-version is refused with the API message (exit 1)', async () => {
    const set = await runCli(
      built,
      ['mode', 'enforce', '--reason', 'go live', '--expires', '15m', '--json'],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    const body = JSON.parse(set.stdout) as {
      mode: string;
      version: number;
      operation_id: string;
      expires_at: number;
    };
    expect(body.mode).toBe('enforce');
    expect(body.expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThan(800);
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('enforce');

    const stale = await runCli(
      built,
      ['mode', 'shadow', '--reason', 'stale view', '--expect-version', String(body.version - 1)],
      env,
    );
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/409 .*stale/);

    const ledger = await runCli(built, ['ledger', '--limit', '5'], env);
    expect(ledger.code).toBe(0);
    expect(ledger.stdout).toContain(body.operation_id);
    expect(ledger.stdout).toMatch(/alice\s+global\s+shadow -> enforce\s+go live/);
  });

  it('rollback returns to shadow; ledger verify exits 0 on the intact chain', async () => {
    const r = await runCli(built, ['rollback', '--reason', 'bad fills'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mode\s+shadow$/m);
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('shadow');
    const v = await runCli(built, ['ledger', 'verify'], env);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/^ok: \d+ entries/);
  });

  it('mode reduce-only blocks a BUY at the gate; rollback lifts it', async () => {
    const gate = async (side: 'BUY' | 'SELL', planId: string) => {
      const res = await fetch(`${svc.url}/governor/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
        body: JSON.stringify({ plan_id: planId, symbol: 'BTCUSDT', side, qty: 0.01 }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { decision: string; reason: string; mode: string };
    };
    const set = await runCli(built, ['mode', 'reduce-only', '--reason', 'kill switch drill', '--json'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ mode: 'reduce_only' });
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('reduce_only');
    expect(await gate('BUY', 'cli-buy')).toMatchObject({
      decision: 'BLOCK',
      reason: 'p28_reduce_only_mode',
      mode: 'reduce_only',
    });
    // BTCUSDT is long 0.1: selling 0.01 lowers it
    expect(await gate('SELL', 'cli-sell')).toMatchObject({ decision: 'ALLOW', reason: 'reduces_risk' });

    const r = await runCli(built, ['rollback', '--reason', 'drill over'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mode\s+shadow$/m);
    const after = await gate('BUY', 'cli-buy-2');
    expect(after).toMatchObject({ decision: 'ALLOW', mode: 'shadow' });
  });

  it('budgets lists what the engine wrote', async () => {
    let r = await runCli(built, ['budgets'], env);
    for (let i = 0; i < 40 && !r.stdout.includes('BTCUSDT'); i++) {
      await new Promise((res) => setTimeout(res, 250));
      r = await runCli(built, ['budgets'], env);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^BTCUSDT\s+\d+/m);
  });

  it('a viewer token is refused a write (exit 1, 403), no token at all gets 401, a bad flag exits 2', async () => {
    const w = await runCli(built, ['mode', 'enforce', '--reason', 'sneaky'], {
      P28_URL: svc.url,
      P28_TOKEN: viewer,
    });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('403');
    const n = await runCli(built, ['ledger'], { P28_URL: svc.url });
    expect(n.code).toBe(1);
    expect(n.stderr).toContain('401');
    const u = await runCli(built, ['mode', 'enforce', '--reasn', 'typo'], env);
    expect(u.code).toBe(2);
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('shadow');
  });

  it('token works with no service and no dev dependencies in play', async () => {
    const r = await runCli(built, ['token', '--name', 'bob', '--role', 'operator']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}bob:operator:[0-9a-f]{64}$/m);
  });
});
