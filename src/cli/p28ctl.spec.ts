import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../platform/auth/token-entries.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseDuration, run, type Io } from './p28ctl.js';

interface Sent {
  method: string;
  url: string;
  auth?: string;
  body?: unknown;
}

/** An Io whose fetch answers from a table and records what was sent. */
function fakeIo(
  answers: Record<string, { status: number; body: unknown }>,
  env: Record<string, string> = { P28_TOKEN: 'tok' },
) {
  const sent: Sent[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    nowSec: () => 1_800_000_000,
    fetch: (async (input: URL, init: RequestInit) => {
      const url = new URL(String(input));
      const headers = init.headers as Record<string, string>;
      sent.push({
        method: init.method ?? 'GET',
        url: url.pathname + url.search,
        auth: headers.authorization,
        body: init.body ? JSON.parse(String(init.body)) : undefined,
      });
      const a = answers[`${init.method} ${url.pathname}`] ?? { status: 404, body: { message: 'not found' } };
      return new Response(JSON.stringify(a.body), { status: a.status });
    }) as typeof fetch,
  };
  return { io, sent, out, err };
}

describe('p28ctl', () => {
  it('maps mode reduce-only, --expires and --expect-version onto PUT /ops/mode with the bearer token', async () => {
    const { io, sent, out } = fakeIo({
      'PUT /ops/mode': {
        status: 200,
        body: { mode: 'reduce_only', version: 8, operation_id: 'OPS-2027-01-15-001' },
      },
    });
    const code = await run(
      [
        'mode',
        'reduce-only',
        '--reason',
        'desk halt',
        '--expires',
        '15m',
        '--expect-version',
        '7',
        '--symbol',
        'BTCUSDT',
      ],
      io,
    );
    expect(code).toBe(EXIT_OK);
    expect(sent).toEqual([
      {
        method: 'PUT',
        url: '/ops/mode',
        auth: 'Bearer tok',
        body: {
          mode: 'reduce_only',
          reason: 'desk halt',
          expires_in_sec: 900,
          expected_version: 7,
          symbol: 'BTCUSDT',
        },
      },
    ]);
    expect(out.join('\n')).toContain('OPS-2027-01-15-001');
  });

  it('mode clear sends mode null for the symbol', async () => {
    const { io, sent } = fakeIo({
      'PUT /ops/mode': { status: 200, body: { mode: 'shadow', version: 2, operation_id: 'x' } },
    });
    expect(await run(['mode', 'clear', '--symbol', 'ETHUSDT', '--reason', 'done'], io)).toBe(EXIT_OK);
    expect(sent[0].body).toEqual({ mode: null, symbol: 'ETHUSDT', reason: 'done' });
  });

  it('a refused request exits 1 and prints the API message', async () => {
    const { io, err } = fakeIo({
      'POST /ops/rollback': {
        status: 409,
        body: { statusCode: 409, message: 'expected_version 3 is stale' },
      },
    });
    expect(await run(['rollback', '--reason', 'bad fills'], io)).toBe(EXIT_FAILED);
    expect(err.join('\n')).toContain('409 expected_version 3 is stale');
  });

  it('an unreachable service exits 1 naming the URL', async () => {
    const { io, err } = fakeIo({});
    io.fetch = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    expect(await run(['--url', 'http://127.0.0.1:1', 'status'], io)).toBe(EXIT_FAILED);
    expect(err.join('\n')).toContain('cannot reach http://127.0.0.1:1');
  });

  it('usage errors exit 2 and send nothing', async () => {
    for (const argv of [
      [],
      ['frobnicate'],
      ['mode', 'enforce'], // no --reason
      ['mode', 'loud', '--reason', 'x'],
      ['mode', 'enforce', '--reason', 'x', '--expires', '15 minutes'],
      ['status', '--bogus'],
      ['ledger', '--limit', 'ten'],
      ['token', '--name', 'alice'],
      ['token', '--name', 'alice', '--role', 'root'],
    ]) {
      const { io, sent } = fakeIo({});
      expect(await run(argv, io), argv.join(' ')).toBe(EXIT_USAGE);
      expect(sent).toEqual([]);
    }
  });

  it('reads the token from P28_TOKEN_FILE, trimmed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'p28ctl-'));
    writeFileSync(join(dir, 't'), 'secret-token\n', { mode: 0o600 });
    const { io, sent } = fakeIo(
      { 'GET /ops/ledger': { status: 200, body: { entries: [] } } },
      { P28_TOKEN_FILE: join(dir, 't') },
    );
    expect(await run(['ledger', '--limit', '5'], io)).toBe(EXIT_OK);
    expect(sent[0]).toMatchObject({ url: '/ops/ledger?limit=5', auth: 'Bearer secret-token' });
  });

  it('ledger verify exits 1 on a broken chain and lists every break', async () => {
    const { io, out } = fakeIo({
      'GET /ops/ledger/verify': {
        status: 200,
        body: {
          ok: false,
          entries: 9,
          signed: true,
          breaks: [
            { operation_id: 'OPS-2027-01-15-002', problem: 'bad_signature' },
            { operation_id: 'OPS-2027-01-15-007', problem: 'hash_mismatch' },
          ],
        },
      },
    });
    expect(await run(['ledger', 'verify'], io)).toBe(EXIT_FAILED);
    expect(out.join('\n')).toMatch(/BROKEN[\s\S]*-002\s+bad_signature[\s\S]*-007\s+hash_mismatch/);
  });

  it('shadow-report --since 24h asks for the last day', async () => {
    const { io, sent } = fakeIo({
      'GET /ops/shadow-report': {
        status: 200,
        body: { symbols: { BTCUSDT: { count: 3, max_over_budget: 120, last_seen: 1_799_999_000 } } },
      },
    });
    expect(await run(['shadow-report', '--since', '24h'], io)).toBe(EXIT_OK);
    expect(sent[0].url).toBe(`/ops/shadow-report?since=${1_800_000_000 - 86_400}`);
  });

  it('token prints a token whose hash is in the entry, offline', async () => {
    const { io, out, sent } = fakeIo({});
    expect(await run(['token', '--name', 'svc-gov', '--role', 'viewer', '--json'], io)).toBe(EXIT_OK);
    const t = JSON.parse(out[0]) as { token: string; entry: string };
    expect(t.entry).toBe(`svc-gov:viewer:${sha256Hex(t.token)}`);
    expect(sent).toEqual([]);
  });

  it('parses durations', () => {
    expect(parseDuration('90', 'x')).toBe(90);
    expect(parseDuration('2h', 'x')).toBe(7200);
    expect(parseDuration('1d', 'x')).toBe(86400);
    expect(() => parseDuration('-5m', 'x')).toThrow(/duration/);
  });

  it('policy set, revert and replay map onto the §7 endpoints; a bad --param is a usage error', async () => {
    const { io, sent, out } = fakeIo({
      'GET /ops/policy': { status: 200, body: { policy: { base_risk_pct: 0.02 }, version: 3 } },
      'PUT /ops/policy': {
        status: 200,
        body: { policy: { base_risk_pct: 0.015 }, version: 4, operation_id: 'OPS-1' },
      },
      'POST /ops/policy/revert': {
        status: 200,
        body: { policy: { base_risk_pct: 0.02 }, version: 5, operation_id: 'OPS-2' },
      },
      'POST /ops/policy/replay': {
        status: 200,
        body: { decisions: 10, changed: { newly_blocked: 2, newly_allowed: 0 }, per_symbol: {}, samples: {} },
      },
    });
    expect(await run(['policy'], io)).toBe(EXIT_OK);
    expect(
      await run(
        ['policy', 'set', '--param', 'base_risk_pct=0.015', '--reason', 'tighter', '--expect-version', '3'],
        io,
      ),
    ).toBe(EXIT_OK);
    expect(await run(['policy', 'revert', '--reason', 'undo', '--to-version', '3'], io)).toBe(EXIT_OK);
    expect(await run(['policy', 'replay', '--param', 'base_risk_pct=0.015', '--since', '48h'], io)).toBe(
      EXIT_OK,
    );
    expect(sent.map((x) => `${x.method} ${x.url}`)).toEqual([
      'GET /ops/policy',
      'PUT /ops/policy',
      'POST /ops/policy/revert',
      'POST /ops/policy/replay',
    ]);
    expect(sent[1].body).toEqual({
      policy: { base_risk_pct: 0.015 },
      reason: 'tighter',
      expected_version: 3,
    });
    expect(sent[2].body).toEqual({ reason: 'undo', to_version: 3 });
    expect(sent[3].body).toEqual({ policy: { base_risk_pct: 0.015 }, since: 1_800_000_000 - 172_800 });
    expect(out.join('\n')).toMatch(/newly blocked\s+2/);
    expect(await run(['policy', 'set', '--param', 'base_risk_pct', '--reason', 'x'], io)).toBe(EXIT_USAGE);
  });
});
