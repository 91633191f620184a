import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';

// A stopped test redis-server's port must not be one the kernel hands out as a source port, or
// any outgoing connection on the machine can take it before the restart (EADDRINUSE).
describe('freePort', () => {
  it('picks ports below the ephemeral range', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    for (let i = 0; i < 20; i++) expect(await freePort()).toBeLessThan(low);
  });
});
