import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it, vi } from 'vitest';
import { GateEvaluator } from '../../src/governor-gate/gate-evaluator.js';
import { Keys } from '../../src/platform/redis/keys.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { newToken, tokenEntry } from '../../src/platform/auth/token-entries.js';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/proof-enforce-block.sh');

function runProof(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn('bash', [SCRIPT], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => res({ code, out }));
  });
}

/** scripts/proof-enforce-block.sh against a running service: it must pass, and must fail when the gate cannot block. */
describe('proof-enforce-block.sh', () => {
  let redis: TestRedis;
  let t: TestApp;
  const token = newToken();

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await t?.close();
    await redis.flush();
  });
  afterAll(async () => {
    await redis?.close();
  });

  const boot = async () => {
    t = await createTestApp(
      {
        REDIS_URL: redis.url,
        P28_TEST_MODE: '1',
        BUDGET_COMPUTE_INTERVAL_SEC: '1',
        HEAT_GATE_METRICS_URL: 'http://127.0.0.1:9/metrics',
        HEAT_TIMEOUT_MS: '100',
        OPS_API_TOKENS: tokenEntry('proof', 'operator', token),
      },
      { listen: true },
    );
    return {
      P28_URL: (await t.app.getUrl()).replace('[::1]', '127.0.0.1'),
      P28_TOKEN: token,
      REDIS_URL: redis.url,
      PROOF_WAIT_SEC: '15',
    };
  };

  it('prints SUMMARY: PASS against a freshly started service, leaves shadow and cleans up', async () => {
    const env = await boot();
    const { code, out } = await runProof(env);
    expect(out, out).toContain('SUMMARY: PASS');
    expect(code).toBe(0);
    const c = redis.client();
    expect(await c.hget(Keys.mode, 'mode')).toBe('shadow');
    expect(await c.exists(Keys.position('P28PROOFUSDT'))).toBe(0);
  }, 60_000);

  it('fails (non-zero, SUMMARY: FAIL naming the step) when the gate is forced to always allow, and still leaves shadow', async () => {
    const env = await boot();
    // the old service's defect: everything else works (shadow records would-blocks), but a BLOCK
    // never comes out of the gate
    const decide = GateEvaluator.prototype.decide;
    vi.spyOn(GateEvaluator.prototype, 'decide').mockImplementation(function (this: GateEvaluator, ...args) {
      const verdict = decide.apply(this, args);
      return verdict.decision.decision === 'BLOCK'
        ? { ...verdict, decision: { ...verdict.decision, decision: 'ALLOW', enforced: false } }
        : verdict;
    });
    const { code, out } = await runProof(env);
    expect(code, out).not.toBe(0);
    expect(out).toMatch(/SUMMARY: FAIL \(step \d+: enforce mode answered ALLOW/);
    expect(await redis.client().hget(Keys.mode, 'mode')).toBe('shadow');
  }, 60_000);
});
