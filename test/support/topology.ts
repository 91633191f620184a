import type { Cluster, Redis } from 'ioredis';
import { startTestCluster, type TestCluster, type TestClusterOptions } from './redis-cluster.js';
import { startTestRedis, type TestRedis } from './redis-server.js';
import { startTestSentinel, type TestSentinel, type TestSentinelOptions } from './redis-sentinel.js';

export const TOPOLOGY_KINDS = ['single', 'cluster', 'sentinel'] as const;
export type TopologyKind = (typeof TOPOLOGY_KINDS)[number];

/** What a suite needs from any topology: the app's env, a client of its own, cleanup. */
export interface TestTopology {
  kind: TopologyKind;
  /** Spread into createTestApp(): REDIS_URL, or REDIS_CLUSTER_NODES, or REDIS_SENTINELS + name. */
  env: Record<string, string>;
  /** A client routed like the app's (cluster- or sentinel-aware), closed by close(). */
  client(): Redis | Cluster;
  /** Empties every database of the topology. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** The topology-specific handle (stop/freeze for single, failover for sentinel). */
  single?: TestRedis;
  cluster?: TestCluster;
  sentinel?: TestSentinel;
}

export interface StartTopologyOptions {
  cluster?: TestClusterOptions;
  sentinel?: TestSentinelOptions;
}

/**
 * The topologies a suite should run against, from `P28_TEST_TOPOLOGY`: one kind, a comma list, or
 * `all`. Unset means `single`, so the default test run stays fast; `.ci/run` runs these suites again
 * with `P28_TEST_TOPOLOGY=all`. An unknown name fails loudly rather than testing less.
 *
 *     describe.each(topologiesUnderTest())('mode change with ledger on %s', (kind) => {
 *       let topo: TestTopology;
 *       beforeAll(async () => { topo = await startTopology(kind); t = await createTestApp(topo.env); });
 *       afterAll(async () => { await t?.close(); await topo?.close(); });
 *       ...
 *     });
 */
export function topologiesUnderTest(raw = process.env.P28_TEST_TOPOLOGY): TopologyKind[] {
  const value = (raw ?? '').trim().toLowerCase();
  if (!value) return ['single'];
  if (value === 'all') return [...TOPOLOGY_KINDS];
  const kinds = value.split(',').map((k) => k.trim());
  const unknown = kinds.filter((k) => !(TOPOLOGY_KINDS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new Error(
      `P28_TEST_TOPOLOGY: unknown topology ${unknown.join(', ')} (expected ${TOPOLOGY_KINDS.join('|')} or all)`,
    );
  }
  return [...new Set(kinds)] as TopologyKind[];
}

export async function startTopology(
  kind: TopologyKind,
  opts: StartTopologyOptions = {},
): Promise<TestTopology> {
  switch (kind) {
    case 'single': {
      const single = await startTestRedis();
      return {
        kind,
        env: { REDIS_URL: single.url },
        client: () => single.client(),
        flush: () => single.flush(),
        close: () => single.close(),
        single,
      };
    }
    case 'cluster': {
      const cluster = await startTestCluster(opts.cluster);
      return {
        kind,
        env: { ...cluster.env },
        client: () => cluster.client(),
        flush: () => cluster.flush(),
        close: () => cluster.close(),
        cluster,
      };
    }
    case 'sentinel': {
      const sentinel = await startTestSentinel(opts.sentinel);
      return {
        kind,
        env: { ...sentinel.env },
        client: () => sentinel.client(),
        flush: () => sentinel.flush(),
        close: () => sentinel.close(),
        sentinel,
      };
    }
  }
}
