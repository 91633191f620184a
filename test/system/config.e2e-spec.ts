import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfig, ConfigError, checkBootPaths, loadConfig } from '../../src/platform/config/index.js';
import { startProcessApp } from '../support/process-app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

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

  it('ignores variables named like Object.prototype members (toString, constructor, __proto__)', () => {
    const env = JSON.parse(
      '{"toString":"x","constructor":"y","hasOwnProperty":"z","__proto__":"w","PORT":"8050"}',
    );
    const c = loadConfig(env);
    expect(c.PORT).toBe(8050);
    expect(typeof c.toString).toBe('function');
    expect(c.constructor).toBe(AppConfig);
    expect(Object.hasOwn(c, 'toString')).toBe(false);
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

const problemsOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return e instanceof ConfigError ? e.problems.join('\n') : `not a ConfigError: ${String(e)}`;
  }
  return '';
};

describe('numeric variables are plain decimals (docs/contract.md §6)', () => {
  it.each([
    ['ALPHA_HEAT', '-0'],
    ['MIN_BUDGET_USD', '-0.0'],
    ['PORT', '0x1F90'],
    ['PORT', '8.049e3'],
    ['PORT', ' 8049'],
    ['PORT', '8049\n'],
    ['PORT', '+8049'],
    ['GATE_TIMEOUT_MS', '0b110010'],
    ['GATE_TIMEOUT_MS', '0o62'],
    ['BASE_RISK_PCT', '2e-2'],
    ['BASE_RISK_PCT', '.02'],
    ['MAX_BUDGET_USD', '1_0000'],
    ['MAX_BUDGET_USD', 'Infinity'],
    ['STALE_SEC', '３０'],
    ['MAX_BUDGET_K', '0x2710'],
  ])('%s=%j is refused, naming the variable', (name, value) => {
    // an old alias is named as the operator wrote it
    const shown = name === 'MAX_BUDGET_K' ? 'MAX_BUDGET_K (read as MAX_BUDGET_USD)' : name;
    const problems = problemsOf(() => loadConfig({ [name]: value }));
    expect(problems).toContain(`${shown}=`);
    expect(problems).toMatch(/plain decimal/);
  });

  it('accepts integers and decimals as written, and reports a bad value once', () => {
    const c = loadConfig({
      PORT: '8050',
      BASE_RISK_PCT: '0.015',
      MIN_BUDGET_USD: '0',
      MAX_BUDGET_USD: '20000.5',
    });
    expect(c).toMatchObject({ PORT: 8050, BASE_RISK_PCT: 0.015, MIN_BUDGET_USD: 0, MAX_BUDGET_USD: 20000.5 });
    expect(problemsOf(() => loadConfig({ PORT: 'abc' })).split('\n')).toHaveLength(1);
    expect(problemsOf(() => loadConfig({ MIN_BUDGET_K: '-5' }))).toMatch(
      /^MIN_BUDGET_K \(read as MIN_BUDGET_USD\)="-5": /,
    );
    // plain digits, but past what a double holds: Infinity is refused too
    expect(problemsOf(() => loadConfig({ MAX_BUDGET_USD: '9'.repeat(400) }))).toMatch(/^MAX_BUDGET_USD=/);
  });
});

describe('BUDGET_UNIVERSE obeys the symbol rule (docs/contract.md §2)', () => {
  it.each(['BTCUSDT,toString', 'btcusdt', 'BTC USDT', 'BTCUSDT,__proto__', 'ETH*'])(
    'BUDGET_UNIVERSE=%j is refused, naming the variable',
    (value) => {
      expect(problemsOf(() => loadConfig({ BUDGET_UNIVERSE: value }))).toMatch(/^BUDGET_UNIVERSE=/);
    },
  );

  it('accepts upper-case symbols, with spaces around the commas', () => {
    expect(loadConfig({ BUDGET_UNIVERSE: 'BTCUSDT, 1000PEPEUSDT,BTC-PERP' }).BUDGET_UNIVERSE).toEqual([
      'BTCUSDT',
      '1000PEPEUSDT',
      'BTC-PERP',
    ]);
  });
});

describe("the old env file's REDIS_HOST / REDIS_PORT (docs/integration.md, migration)", () => {
  it('become REDIS_URL when REDIS_URL is unset, with REDIS_PASSWORD and REDIS_DB', () => {
    expect(loadConfig({ REDIS_HOST: '10.0.0.5', REDIS_PORT: '6380' }).REDIS_URL).toBe(
      'redis://10.0.0.5:6380/0',
    );
    expect(loadConfig({ REDIS_HOST: 'redis.internal' }).REDIS_URL).toBe('redis://redis.internal:6379/0');
    expect(
      loadConfig({ REDIS_HOST: '10.0.0.5', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss:/w', REDIS_DB: '2' })
        .REDIS_URL,
    ).toBe('redis://:p%40ss%3A%2Fw@10.0.0.5:6380/2');
    expect(loadConfig({ REDIS_PORT: '6390' }).REDIS_URL).toBe('redis://127.0.0.1:6390/0');
  });

  it('are refused next to REDIS_URL (which one is meant?), and when malformed, naming the variable', () => {
    const both = problemsOf(() => loadConfig({ REDIS_URL: 'redis://a:6379/0', REDIS_HOST: 'b' }));
    expect(both).toMatch(/REDIS_URL/);
    expect(both).toMatch(/REDIS_HOST/);
    expect(problemsOf(() => loadConfig({ REDIS_HOST: 'h', REDIS_PORT: '0x18eb' }))).toMatch(/^REDIS_PORT=/);
    expect(problemsOf(() => loadConfig({ REDIS_HOST: 'h', REDIS_PORT: '70000' }))).toMatch(/^REDIS_PORT=/);
    expect(problemsOf(() => loadConfig({ REDIS_HOST: 'h/x@y' }))).toMatch(/^REDIS_HOST=/);
    expect(problemsOf(() => loadConfig({ REDIS_HOST: 'h', REDIS_DB: '-1' }))).toMatch(/^REDIS_DB=/);
    // the password is a secret: never echoed
    const pw = problemsOf(() => loadConfig({ REDIS_URL: 'redis://a:6379/0', REDIS_PASSWORD: 'hunter2' }));
    expect(pw).toMatch(/REDIS_PASSWORD/);
    expect(pw).not.toContain('hunter2');
  });
});

describe('LOG_LEVEL accepts any case (CONTRACT §6)', () => {
  it.each(['INFO', 'Warn', 'debug', 'ERROR'])('LOG_LEVEL=%s', (level) => {
    expect(loadConfig({ LOG_LEVEL: level }).LOG_LEVEL).toBe(level.toLowerCase());
  });
  it('still refuses an unknown level', () => {
    expect(problemsOf(() => loadConfig({ LOG_LEVEL: 'LOUD' }))).toContain('LOG_LEVEL="LOUD"');
  });
});

describe('LEDGER_FILE is checked at boot (CONTRACT §6)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p28-ledger-path-'));
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o555);
    spawnSync('mkfifo', [join(dir, 'fifo')]);
    writeFileSync(join(dir, 'existing.jsonl'), '');
    // a link to a file that does not exist yet: opening it for append would create the target
    symlinkSync('/proc/p28-ledger.jsonl', join(dir, 'dangling-to-proc'));
    symlinkSync(join(dir, 'nowhere', 'ledger.jsonl'), join(dir, 'dangling'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = (LEDGER_FILE: string) => problemsOf(() => checkBootPaths(loadConfig({ LEDGER_FILE })));

  it.each([
    ['a directory', () => dir],
    ['a file under /proc', () => '/proc/self/status'],
    ['a file under /sys', () => '/sys/kernel/mm/transparent_hugepage/enabled'],
    ['a new file under /proc', () => '/proc/p28-ledger.jsonl'],
    ['a device', () => '/dev/zero'],
    ['a FIFO', () => join(dir, 'fifo')],
    ['a symlink to a special file', () => '/dev/stdin'],
    ['a dangling symlink into /proc', () => join(dir, 'dangling-to-proc')],
    ['a dangling symlink', () => join(dir, 'dangling')],
  ])('refuses %s, naming the variable', (_what, path) => {
    const problems = check(path());
    expect(problems).toMatch(/^LEDGER_FILE=/);
  });

  it.skipIf(process.getuid?.() === 0)('refuses a directory it cannot write', () => {
    expect(check(join(dir, 'ro', 'ledger.jsonl'))).toMatch(/^LEDGER_FILE=.*writ/);
  });

  it('accepts an existing regular file, a new file, and a new file in a directory still to create', () => {
    expect(check(join(dir, 'existing.jsonl'))).toBe('');
    expect(check(join(dir, 'new.jsonl'))).toBe('');
    expect(check(join(dir, 'sub', 'dir', 'ledger.jsonl'))).toBe('');
    expect(problemsOf(() => checkBootPaths(loadConfig({})))).toBe('');
  });

  it('the process stops at boot with exit 1 naming LEDGER_FILE, for a directory and for a FIFO', () => {
    for (const LEDGER_FILE of [dir, join(dir, 'fifo')]) {
      const r = boot({ LEDGER_FILE, REDIS_URL: 'redis://127.0.0.1:9/0' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain('LEDGER_FILE=');
    }
  });
});

describe('the original deployment env file boots', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  // the Python service's env file as it was deployed: upper-case level, the old _K names, and
  // variables this service does not know (ignored)
  const ORIGINAL = `
LOG_LEVEL=INFO
P28_MODE=shadow
REDIS_HOST=127.0.0.1
REDIS_PORT=@REDIS_PORT@
BUDGET_COMPUTE_INTERVAL_SEC=10
STALE_SEC=30
MAX_LKG_AGE_SEC=900
ALPHA_HEAT=0.4
BETA_CLUSTER=0.4
GAMMA_VOL=0.2
BASE_RISK_PCT=0.02
MIN_BUDGET_K=500
MAX_BUDGET_K=10000
HEAT_GATE_METRICS_URL=http://127.0.0.1:9/metrics
PORT=8049
`;

  it('LOG_LEVEL=INFO and the old names: the service starts and answers /health/live', async () => {
    const env = Object.fromEntries(
      ORIGINAL.replace('@REDIS_PORT@', String(redis.port))
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
    // REDIS_URL is not set: the service must reach Redis through REDIS_HOST / REDIS_PORT
    const app = await startProcessApp({ ...env, HEAT_TIMEOUT_MS: '100' });
    try {
      expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
      const health = (await (await fetch(`${app.url}/health`)).json()) as { redis: string };
      expect(health.redis).toBe('connected');
      // the mode was seeded in the test's Redis, not in whatever listens on 127.0.0.1:6379
      expect(await redis.client().exists('quantum:{p28:ops}:mode')).toBe(1);
      expect(app.lines.some((l) => l.includes('"level":"info"'))).toBe(true);
    } finally {
      app.kill('SIGTERM');
      await app.exited;
    }
  }, 60_000);
});
