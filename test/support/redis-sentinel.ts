import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { adminClient, parseInfo, startRedisProcess, until, type RedisProcess } from './redis-cluster.js';

export const SENTINEL_MASTER_NAME = 'mymaster';

export interface TestSentinelOptions {
  /**
   * 3 (default, quorum 2) is the production shape: killMaster() needs the sentinels to agree.
   * 1 (quorum 1) starts about as fast, since sentinels need not discover each other first.
   */
  sentinels?: 1 | 3;
}

export interface TestSentinel {
  kind: 'sentinel';
  env: { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string; REDIS_URL: string };
  sentinelPorts: number[];
  /** The port the sentinels currently name as master. */
  masterPort(): number;
  /** The other data node (after a failover it may still claim master until sentinel demotes it). */
  replicaPort(): number;
  /**
   * `SENTINEL FAILOVER mymaster`, resolved once every sentinel names the replica as master and the
   * replica accepts writes. Sentinel demotes the old master about 10 s later, as in production, so
   * a second failover() first waits for that.
   */
  failover(): Promise<void>;
  /**
   * SIGKILLs the master (for good: its dir is removed); with `waitForPromotion` (default) resolves
   * once the sentinels agreed it is down and promoted the replica (about 2.5 s).
   */
  killMaster(opts?: { waitForPromotion?: boolean }): Promise<void>;
  /** A sentinel-aware client (with failoverDetector), closed by close(). */
  client(): Redis;
  /** FLUSHALL on the current master (the replica follows). */
  flush(): Promise<void>;
  /** Stops every process and removes the temp dirs; safe to call twice or after a failed start. */
  close(): Promise<void>;
}

function dataNodeArgs(replicaOf?: number) {
  return ({ port }: { port: number }, dir: string) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    // the 7.0 default waits 5 s for more replicas before a diskless full sync
    '--repl-diskless-sync-delay',
    '0',
    '--dir',
    dir,
    ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
  ];
}

/** Sentinel rewrites its config file (ids, epochs, discovered peers), so it lives in the writable temp dir. */
function sentinelArgs(masterPort: number, quorum: number) {
  return ({ port }: { port: number }, dir: string) => {
    const file = join(dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'sentinel resolve-hostnames no',
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    // what Debian's redis-sentinel binary does: it is redis-server in sentinel mode
    return [file, '--sentinel'];
  };
}

async function masterAddr(sentinel: Redis): Promise<number | undefined> {
  const addr = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as
    [string, string] | null;
  return addr ? Number(addr[1]) : undefined;
}

/** `SENTINEL REPLICAS` rows as field maps. */
async function replicasOf(sentinel: Redis): Promise<Array<Record<string, string>>> {
  const rows = (await sentinel.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as string[][];
  return rows.map((flat) => {
    const row: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) row[flat[i]] = flat[i + 1];
    return row;
  });
}

/**
 * One master, one replica and 1 or 3 sentinels (quorum 1 or 2) watching `mymaster`, on free ports.
 * Resolves once the replica is in sync and every sentinel knows the replica (and, with 3, the
 * other sentinels): before that a failover has no candidate and a dead master no quorum.
 */
export async function startTestSentinel(opts: TestSentinelOptions = {}): Promise<TestSentinel> {
  const sentinelCount = opts.sentinels ?? 3;
  const quorum = sentinelCount === 1 ? 1 : 2;
  const procs: RedisProcess[] = [];
  const admins: Redis[] = [];
  const clients: Redis[] = [];
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
    for (const c of [...clients, ...admins]) c.disconnect();
    await Promise.all(procs.map((p) => p.kill()));
  };
  const admin = async (port: number, reconnect = false) => {
    const c = adminClient(port, { reconnect });
    admins.push(c);
    await c.connect();
    return c;
  };

  try {
    const master = await startRedisProcess({ label: 'sentinel-master', args: dataNodeArgs() });
    procs.push(master);
    const replica = await startRedisProcess({ label: 'sentinel-replica', args: dataNodeArgs(master.port) });
    procs.push(replica);
    const data = new Map<number, Redis>([
      [master.port, await admin(master.port, true)],
      [replica.port, await admin(replica.port, true)],
    ]);
    const dataProcs = new Map([
      [master.port, master],
      [replica.port, replica],
    ]);
    await until(
      async () => parseInfo(await data.get(replica.port)!.info('replication')).master_link_status === 'up',
      'the replica to sync with the master',
      10_000,
    );

    // Sentinels find replicas in the master's INFO, read on connect and then every 10 s: started
    // before the replica attached, they would not see it for 10 s.
    const sentinels = await Promise.all(
      Array.from({ length: sentinelCount }, (_, i) =>
        startRedisProcess({ label: `sentinel${i}`, args: sentinelArgs(master.port, quorum) }),
      ),
    );
    procs.push(...sentinels);
    const sentinelAdmins = await Promise.all(sentinels.map((s) => admin(s.port)));
    await until(
      async () => {
        for (const s of sentinelAdmins) {
          const known = await replicasOf(s);
          if (!known.some((r) => Number(r.port) === replica.port && r.flags === 'slave')) return false;
          const peers = (await s.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[];
          if (peers.length !== sentinelCount - 1) return false;
        }
        return true;
      },
      // peers announce themselves every 2 s on the master's hello channel
      'every sentinel to know the replica and its peers',
      15_000,
    );

    let currentMaster = master.port;
    const otherOf = (port: number) => (port === master.port ? replica.port : master.port);

    /** Every sentinel names `port` as master and that server takes writes. */
    const waitForMaster = async (port: number, what: string) => {
      await until(
        async () => {
          const named = await Promise.all(sentinelAdmins.map(masterAddr));
          if (!named.every((p) => p === port)) return false;
          const c = data.get(port)!;
          if (parseInfo(await c.info('replication')).role !== 'master') return false;
          await c.set('p28:test:sentinel-probe', String(Date.now()), 'PX', 1000);
          return true;
        },
        what,
        20_000,
      );
      currentMaster = port;
    };

    const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`);
    return {
      kind: 'sentinel',
      env: {
        REDIS_SENTINELS: sentinelList.join(','),
        REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
        REDIS_URL: `redis://127.0.0.1:${master.port}/0`,
      },
      sentinelPorts: sentinels.map((s) => s.port),
      masterPort: () => currentMaster,
      replicaPort: () => otherOf(currentMaster),
      failover: async () => {
        const target = otherOf(currentMaster);
        // after an earlier failover the old master serves again only once sentinel has demoted it
        await until(
          async () => {
            const info = parseInfo(await data.get(target)!.info('replication'));
            return info.role === 'slave' && info.master_link_status === 'up';
          },
          `127.0.0.1:${target} to be an in-sync replica before failing over to it`,
          20_000,
        );
        // NOGOODSLAVE while sentinel's view of the replica is momentarily stale: retry briefly
        await until(
          async () => (await sentinelAdmins[0].call('SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME)) === 'OK',
          'SENTINEL FAILOVER to be accepted',
          5_000,
          100,
        );
        await waitForMaster(target, `sentinel to promote 127.0.0.1:${target}`);
      },
      killMaster: async ({ waitForPromotion = true } = {}) => {
        const target = otherOf(currentMaster);
        await dataProcs.get(currentMaster)!.kill();
        if (waitForPromotion)
          await waitForMaster(target, `sentinel to promote 127.0.0.1:${target} after a kill`);
      },
      client: () => {
        const c = new Redis({
          sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
          name: SENTINEL_MASTER_NAME,
          failoverDetector: true,
          maxRetriesPerRequest: 1,
        });
        c.on('error', () => undefined);
        clients.push(c);
        return c;
      },
      flush: async () => {
        await data.get(currentMaster)!.flushall();
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
