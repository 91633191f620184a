import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDotEnv } from './dot-env.js';

describe('loadDotEnv', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p28-dotenv-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('adds the variables of .env that the environment does not set: the real environment wins', () => {
    writeFileSync(
      join(dir, '.env'),
      '# comment\nPORT=8123\nLOG_LEVEL=debug\nREDIS_URL="redis://127.0.0.1:6390/2"\nHOST=0.0.0.0\n',
    );
    const env: Record<string, string | undefined> = { HOST: '127.0.0.1', LOG_LEVEL: '' };
    expect(loadDotEnv(join(dir, '.env'), env)).toBe(true);
    expect(env).toMatchObject({ PORT: '8123', REDIS_URL: 'redis://127.0.0.1:6390/2', HOST: '127.0.0.1' });
    // an exported empty value is still the operator's choice
    expect(env.LOG_LEVEL).toBe('');
  });

  it('does nothing without a .env', () => {
    const env: Record<string, string | undefined> = {};
    expect(loadDotEnv(join(dir, '.env'), env)).toBe(false);
    expect(env).toEqual({});
  });

  it('stops with a message naming the file when .env exists but cannot be read', () => {
    mkdirSync(join(dir, '.env'));
    expect(() => loadDotEnv(join(dir, '.env'), {})).toThrow(/\.env.*cannot be read/);
  });

  it('treats prototype names as plain variables and leaves the target object intact', () => {
    writeFileSync(join(dir, '.env'), '__proto__=x\nconstructor=y\ntoString=z\nPORT=1\n');
    const env: Record<string, string | undefined> = {};
    loadDotEnv(join(dir, '.env'), env);
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
    expect(Object.hasOwn(env, 'constructor')).toBe(true);
    expect(typeof env.toString).toBe('string');
    expect(env.PORT).toBe('1');
  });

  it('refuses a .env that is not a regular file instead of blocking on it (a FIFO, /dev/zero)', () => {
    expect(spawnSync('mkfifo', [join(dir, '.env')]).status).toBe(0);
    // reading a FIFO with no writer would hang the start for ever
    expect(() => loadDotEnv(join(dir, '.env'), {})).toThrow(/not a regular file/);
    rmSync(join(dir, '.env'));
    symlinkSync('/dev/zero', join(dir, '.env'));
    expect(() => loadDotEnv(join(dir, '.env'), {})).toThrow(/not a regular file/);
  });

  it('refuses a .env over 1 MB: that is not a dotenv file', () => {
    writeFileSync(join(dir, '.env'), `A=${'x'.repeat(1024 * 1024)}\n`);
    const env: Record<string, string | undefined> = {};
    expect(() => loadDotEnv(join(dir, '.env'), env)).toThrow(/larger than 1 MB/);
    expect(env).toEqual({});
  });
});
