import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const ENTRY = ['--import', '@swc-node/register/esm-register', 'src/main.ts'];

function boot(env: Record<string, string>) {
  return spawnSync(process.execPath, ENTRY, {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('configuration is validated once at boot', () => {
  it('a bad value stops the process with exit 1 and names every bad variable', () => {
    const r = boot({ PORT: 'abc', BASE_RISK_PCT: '2', REDIS_URL: 'nonsense' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PORT="abc"');
    expect(r.stderr).toContain('BASE_RISK_PCT="2"');
    expect(r.stderr).toContain('REDIS_URL="nonsense"');
  });

  it('defaults are the contract values', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8049,
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      P28_MODE: 'shadow',
      BUDGET_COMPUTE_INTERVAL_SEC: 10,
      ALPHA_HEAT: 0.4,
      BETA_CLUSTER: 0.4,
      GAMMA_VOL: 0.2,
      BASE_RISK_PCT: 0.02,
      MIN_BUDGET_USD: 500,
      MAX_BUDGET_USD: 10000,
      STALE_SEC: 30,
      MAX_LKG_AGE_SEC: 900,
      BUDGET_HASH_TTL_SEC: 300,
      VIOLATION_STREAM_MAXLEN: 10000,
      HEAT_GATE_METRICS_URL: 'http://localhost:8056/metrics',
      GATE_BUDGET_MAX_AGE_SEC: 60,
      GATE_VIOLATION_WINDOW_SEC: 30,
      GATE_TIMEOUT_MS: 50,
      GATE_CONSUME_PLANS: false,
      P28_TEST_MODE: false,
    });
  });

  it('accepts the old MIN_BUDGET_K / MAX_BUDGET_K names as USD aliases', () => {
    const c = loadConfig({ MIN_BUDGET_K: '750', MAX_BUDGET_K: '20000' });
    expect(c.MIN_BUDGET_USD).toBe(750);
    expect(c.MAX_BUDGET_USD).toBe(20000);
    // the new name wins when both are set
    expect(loadConfig({ MIN_BUDGET_K: '750', MIN_BUDGET_USD: '600' }).MIN_BUDGET_USD).toBe(600);
  });

  it('refuses a bad mode, a bad token entry and min > max, and never echoes a token', () => {
    const secret = 'deadbeef'.repeat(8);
    expect(() => loadConfig({ P28_MODE: 'ENFORCE!' })).toThrow(/P28_MODE/);
    expect(() => loadConfig({ MIN_BUDGET_USD: '900', MAX_BUDGET_USD: '800' })).toThrow(/MIN_BUDGET_USD/);
    let message = '';
    try {
      loadConfig({ OPS_API_TOKENS: `alice:admin:${secret}` });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/OPS_API_TOKENS/);
    expect(message).not.toContain(secret);
  });

  it('parses Sentinel and Cluster node lists and refuses both at once', () => {
    expect(loadConfig({ REDIS_SENTINELS: 'a:26379, b:26380' }).REDIS_SENTINELS).toEqual([
      'a:26379',
      'b:26380',
    ]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'nohostport' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' })).toThrow(/not both/);
  });
});
