import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/platform/redis/keys.js';
import { LeaderService } from '../../src/platform/redis/leader.service.js';
import { RedisService } from '../../src/platform/redis/redis.service.js';
import { createTestApp, waitFor, type TestApp } from '../support/app.js';
import { adminClient } from '../support/redis-cluster.js';
import type { TestSentinel } from '../support/redis-sentinel.js';
import { startTopology, type TestTopology } from '../support/topology.js';

// Short lease so a lease that is not renewed on the right server runs out within the test.
const LEASE_MS = 3000;

/** A renewal resets the lease's PTTL to LEASE_MS; left alone it only goes down between samples. */
async function expectLeaseRenewed(on: Redis | Cluster, leader: LeaderService) {
  let prev = await on.pttl(Keys.leaderLease);
  await waitFor(
    async () => {
      const cur = await on.pttl(Keys.leaderLease);
      const renewed = cur > prev;
      prev = cur;
      return renewed;
    },
    { timeoutMs: LEASE_MS, what: 'the lease to be renewed' },
  );
  expect(await on.get(Keys.leaderLease)).toBe(leader.id);
}

async function healthy(t: TestApp) {
  return (await request(t.http).get('/health')).status === 200;
}

describe.each(['cluster', 'sentinel'] as const)('the service on Redis %s', (kind) => {
  let topo: TestTopology;
  let t: TestApp;
  let own: Redis | Cluster;

  beforeAll(async () => {
    topo = await startTopology(kind);
    own = topo.client();
    t = await createTestApp({ ...topo.env, LEADER_LEASE_MS: String(LEASE_MS) });
  });
  afterAll(async () => {
    await t?.close();
    await topo?.close();
  });

  it('GET /health is 200 with redis connected', async () => {
    const res = await request(t.http).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'healthy', redis: 'connected' });
  });

  it('takes the leader lease (SET NX PX) and renews it (Lua EVAL) on the topology', async () => {
    const leader = t.app.get(LeaderService);
    await waitFor(() => leader.isLeader(), { what: 'leadership' });
    expect(await own.get(Keys.leaderLease)).toBe(leader.id);
    await expectLeaseRenewed(own, leader);
  });

  it('the shared client reaches keys on every server of the topology', async () => {
    const app = t.app.get(RedisService).client;
    const token = randomBytes(6).toString('hex');
    // with 3 masters, 12 spread keys land on all of them; the app must follow MOVED to each
    const keys = Array.from({ length: 12 }, (_, i) => `p28:test:topology:${i}`);
    for (const k of keys) await app.set(k, `${token}:${k}`, 'EX', 60);
    for (const k of keys) expect(await own.get(k)).toBe(`${token}:${k}`);
    if (topo.cluster) {
      const holders = await Promise.all(
        topo.cluster.masterPorts.map(async (port) => {
          const c = adminClient(port);
          try {
            await c.connect();
            const [, found] = await c.scan('0', 'MATCH', 'p28:test:topology:*', 'COUNT', 1000);
            return found.length;
          } finally {
            c.disconnect();
          }
        }),
      );
      expect(holders.every((n) => n > 0)).toBe(true);
    }
  });
});

describe('Sentinel failover in the middle of a run', () => {
  let topo: TestTopology;
  let sentinel: TestSentinel;
  let t: TestApp;

  beforeAll(async () => {
    topo = await startTopology('sentinel');
    sentinel = topo.sentinel!;
    t = await createTestApp({ ...topo.env, LEADER_LEASE_MS: String(LEASE_MS) });
    await waitFor(() => t.app.get(LeaderService).isLeader(), { what: 'leadership' });
  });
  afterAll(async () => {
    await t?.close();
    await topo?.close();
  });

  it('follows the promoted replica: /health recovers, writes land on the new master, the lease is kept', async () => {
    const app = t.app.get(RedisService).client;
    const leader = t.app.get(LeaderService);
    const before = randomBytes(6).toString('hex');
    await app.set('p28:test:failover:before', before);
    const oldMaster = sentinel.masterPort();

    await sentinel.failover();
    const newMaster = sentinel.masterPort();
    expect(newMaster).not.toBe(oldMaster);

    await waitFor(() => healthy(t), { timeoutMs: 10_000, what: '/health 200 after the failover' });

    const direct = adminClient(newMaster, { reconnect: true });
    try {
      await direct.connect();
      expect(await direct.get('p28:test:failover:before')).toBe(before);

      // The old master takes writes until sentinel demotes it (~10 s later) and then discards
      // them: an acknowledged write must already be on the new master.
      const after = randomBytes(6).toString('hex');
      await app.set('p28:test:failover:after', after);
      expect(await direct.get('p28:test:failover:after')).toBe(after);

      // the replicated lease runs out within LEASE_MS unless renewed on the new master
      await expectLeaseRenewed(direct, leader);
      expect(leader.isLeader()).toBe(true);
    } finally {
      direct.disconnect();
    }
  });
});
