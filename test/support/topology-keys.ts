import type { Cluster, Redis } from 'ioredis';

/** Redis Cluster clients expose their nodes; a plain (or sentinel) client is its own only node. */
function mastersOf(client: Redis | Cluster): Redis[] {
  return 'nodes' in client && typeof client.nodes === 'function'
    ? (client as Cluster).nodes('master')
    : [client as Redis];
}

/** Every key matching `pattern`, with SCAN (never KEYS) on each master, deduplicated and sorted. */
export async function scanKeys(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  for (const node of mastersOf(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) found.add(k);
    } while (cursor !== '0');
  }
  return [...found].sort();
}

/**
 * How many masters hold each of `keys` (by `host:port`): proves a test's keys really are spread
 * over the cluster's slots, rather than hoping the hash function put them apart.
 */
export async function holdersOf(client: Redis | Cluster, keys: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const node of mastersOf(client)) {
    const name = `${node.options.host}:${node.options.port}`;
    const p = node.pipeline();
    // EXISTS on a key of another node's slot is a MOVED error, which reads as "not here"
    for (const k of keys) p.exists(k);
    const res = (await p.exec()) ?? [];
    res.forEach(([err, n], i) => {
      if (!err && Number(n) === 1) out.set(keys[i], name);
    });
  }
  return out;
}
