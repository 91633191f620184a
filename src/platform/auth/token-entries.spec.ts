import { describe, expect, it } from 'vitest';
import { TokenRegistry } from './token-registry.js';
import {
  newToken,
  parseTokenArgs,
  parseTokenEntries,
  sha256Hex,
  tokenEntry,
  UsageError,
} from './token-entries.js';
import { loadConfig, type AppConfig } from '../config/index.js';

const registry = (entries: string[]) =>
  new TokenRegistry({ OPS_API_TOKENS: entries } as unknown as AppConfig);

describe('OPS_API_TOKENS parsing', () => {
  it('reads name, role and hash', () => {
    const hex = sha256Hex('secret');
    const [e] = parseTokenEntries([`alice:operator:${hex}`]);
    expect(e.name).toBe('alice');
    expect(e.role).toBe('operator');
    expect(e.hash.toString('hex')).toBe(hex);
  });

  it('refuses a bad role, a short hash or a bad name, naming the entry but not its hash', () => {
    const hex = sha256Hex('secret');
    for (const bad of [`bob:admin:${hex}`, `bob:viewer:${hex.slice(2)}`, `b b:viewer:${hex}`, 'bob']) {
      let msg = '';
      try {
        parseTokenEntries([`ok:viewer:${sha256Hex('x')}`, bad]);
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg).toMatch(/entry #2/);
      expect(msg).not.toContain(hex.slice(2, 40));
    }
  });

  it('accepts the service role, in the registry and in the config check', () => {
    const t = newToken();
    const entry = tokenEntry('governor', 'service', t);
    expect(parseTokenEntries([entry])[0].role).toBe('service');
    expect(registry([entry]).authenticate(t)).toEqual({ name: 'governor', role: 'service' });
    expect(loadConfig({ OPS_API_TOKENS: entry }).OPS_API_TOKENS).toEqual([entry]);
    expect(parseTokenArgs(['--name', 'governor', '--role', 'service'])).toEqual({
      name: 'governor',
      role: 'service',
    });
  });

  it('refuses two names with the same token', () => {
    const hex = sha256Hex('same');
    expect(() => parseTokenEntries([`a:viewer:${hex}`, `b:operator:${hex}`])).toThrow(/same token hash/);
  });
});

describe('TokenRegistry', () => {
  it('authenticates by token hash and tells nothing about unknown tokens', () => {
    const [t1, t2] = [newToken(), newToken()];
    const r = registry([tokenEntry('alice', 'operator', t1), tokenEntry('vic', 'viewer', t2)]);
    expect(r.configured).toBe(true);
    expect(r.authenticate(t1)).toEqual({ name: 'alice', role: 'operator' });
    expect(r.authenticate(t2)).toEqual({ name: 'vic', role: 'viewer' });
    expect(r.authenticate(`${t1}x`)).toBeUndefined();
    expect(r.authenticate('')).toBeUndefined();
  });

  it('is not configured without entries', () => {
    expect(registry([]).configured).toBe(false);
    expect(registry([]).authenticate('anything')).toBeUndefined();
  });
});

describe('npm run token arguments', () => {
  it('takes --name and --role in either spelling', () => {
    expect(parseTokenArgs(['--name', 'alice', '--role', 'operator'])).toEqual({
      name: 'alice',
      role: 'operator',
    });
    expect(parseTokenArgs(['--role=viewer', '--name=ci.bot'])).toEqual({ name: 'ci.bot', role: 'viewer' });
  });

  it('refuses missing, unknown or bad arguments with a usage message', () => {
    expect(() => parseTokenArgs(['--role', 'operator'])).toThrow(/--name is required/);
    expect(() => parseTokenArgs(['--name', 'a'])).toThrow(/--role is required/);
    expect(() => parseTokenArgs(['--name', 'a', '--role', 'admin'])).toThrow(/viewer, operator or service/);
    expect(() => parseTokenArgs(['--name', 'a:b', '--role', 'viewer'])).toThrow(/--name must be/);
    expect(() => parseTokenArgs(['--name', '--role', 'viewer'])).toThrow(/needs a value/);
    expect(() => parseTokenArgs(['--nme', 'a'])).toThrow(UsageError);
  });

  it('makes 32-byte base64url tokens whose entry the config accepts', () => {
    const t = newToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(t, 'base64url')).toHaveLength(32);
    expect(newToken()).not.toBe(t);
    const entry = tokenEntry('alice', 'operator', t);
    expect(entry).toBe(`alice:operator:${sha256Hex(t)}`);
    expect(registry([entry]).authenticate(t)?.name).toBe('alice');
    expect(loadConfig({ OPS_API_TOKENS: entry }).OPS_API_TOKENS).toEqual([entry]);
  });
});
