import type { ArgumentsHost } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { BusyError, ConflictError, UnavailableError } from '../../core/errors.js';
import { RedisUnavailableFilter } from './redis-unavailable.filter.js';

/** What the filter answered: status, headers and body, through a stand-in for Fastify's reply. */
function answer(err: unknown) {
  const seen: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const reply = {
    code(n: number) {
      seen.status = n;
      return reply;
    },
    header(name: string, value: string) {
      seen.headers[name.toLowerCase()] = value;
      return reply;
    },
    send(b: unknown) {
      seen.body = b;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
  new RedisUnavailableFilter().catch(err, host);
  return seen;
}

describe('RedisUnavailableFilter: Retry-After', () => {
  it('tells a refused caller when to come back: 429 busy, 503 with nothing changed', () => {
    expect(answer(new BusyError('two walks running')).headers['retry-after']).toBe('1');
    const down = answer(new UnavailableError('Redis is unavailable', { outcome: 'not_applied' }));
    expect(down).toMatchObject({ status: 503, headers: { 'retry-after': '2' } });
  });

  it('gives no Retry-After when the change may have been applied: the caller must look first', () => {
    for (const outcome of ['unknown', 'unconfirmed']) {
      const res = answer(new UnavailableError('check GET /ops/mode before retrying', { outcome }));
      expect(res.status).toBe(503);
      expect(res.headers).not.toHaveProperty('retry-after');
    }
    expect(answer(new ConflictError('stale')).headers).not.toHaveProperty('retry-after');
  });
});
