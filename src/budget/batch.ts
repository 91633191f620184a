import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis.factory.js';

/** One Redis command as `[name, ...args]`, the shape ioredis pipelines take. */
export type Command = [name: string, ...args: Array<string | number>];
/** One command's outcome: its own error (e.g. WRONGTYPE) or its reply. */
export type Reply = [error: Error | null, value: unknown];

const SCAN_COUNT = 1000;

/**
 * Sends batches of commands and counts round trips, so a tick can prove its Redis cost does not
 * grow with the symbol count. One session per tick (or per request): the count is the session's.
 *
 * Single Redis / Sentinel: one pipeline = one round trip. Cluster: an ioredis pipeline needs every
 * key in one slot, which per-symbol keys are not, so the commands go out concurrently on the
 * cluster client (ioredis writes them back to back on each node's socket, so the latency is still
 * about one round trip per node, not one per command); counted as one round trip.
 */
export interface SessionOptions {
  /** Bound on one whole batch (pipeline, SCAN page, transaction); 0 = none. */
  timeoutMs?: number;
  /** Called when a batch times out, e.g. to reset the connection so late replies cannot pile up. */
  onTimeout?: () => void;
}

export class RedisSession {
  private trips = 0;
  private scanTrips = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly isCluster: boolean,
    private readonly options: SessionOptions = {},
  ) {}

  get roundTrips(): number {
    return this.trips;
  }
  /** The SCAN pages among `roundTrips`: they grow with the keyspace, not with the work done. */
  get scanRoundTrips(): number {
    return this.scanTrips;
  }

  /** Runs every command in one batch; per-command errors are returned, transport errors thrown. */
  async exec(commands: readonly Command[]): Promise<Reply[]> {
    if (commands.length === 0) return [];
    this.trips += 1;
    return this.bounded(this.send(commands), `a batch of ${commands.length} commands`);
  }

  private async send(commands: readonly Command[]): Promise<Reply[]> {
    if (this.isCluster) {
      const cluster = this.client as Cluster;
      return Promise.all(
        commands.map(([name, ...args]) =>
          cluster.call(name, ...args).then(
            (v): Reply => [null, v],
            (e: Error): Reply => [e, null],
          ),
        ),
      );
    }
    const res = await (this.client as Redis).pipeline(commands as Command[]).exec();
    if (!res) throw new Error('pipeline returned no replies');
    return res as Reply[];
  }

  /** MULTI/EXEC: all or nothing. The keys must share a slot on a cluster (one key is fine). */
  async atomic(commands: readonly Command[]): Promise<unknown[]> {
    this.trips += 1;
    const res = await this.bounded(this.client.multi(commands as Command[]).exec(), 'a transaction');
    if (!res) throw new Error('transaction aborted');
    for (const [err] of res) if (err) throw err;
    return res.map(([, v]) => v);
  }

  /**
   * Every key matching `pattern`, by SCAN (never KEYS: it blocks the server for the whole
   * keyspace). On a cluster every master holds part of the keyspace, so each one is scanned.
   */
  async scan(pattern: string): Promise<string[]> {
    const nodes: Redis[] = this.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    const found = new Set<string>(); // SCAN may return a key more than once
    await Promise.all(
      nodes.map(async (node) => {
        let cursor = '0';
        do {
          this.trips += 1;
          this.scanTrips += 1;
          const [next, keys] = await this.bounded(
            node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT),
            `SCAN ${pattern}`,
          );
          for (const k of keys) found.add(k);
          cursor = next;
        } while (cursor !== '0');
      }),
    );
    return [...found];
  }

  private bounded<T>(work: Promise<T>, what: string): Promise<T> {
    const ms = this.options.timeoutMs;
    if (!ms) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.options.onTimeout?.();
        reject(new Error(`${what} timed out after ${ms} ms`));
      }, ms);
    });
    // race() also handles a late rejection of `work`, so it never goes unhandled
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * Collects the reads of several readers into one batch. `add` hands back a getter for that
 * command's reply, valid once the plan has run.
 */
export class ReadPlan {
  readonly commands: Command[] = [];
  private replies?: Reply[];

  add(command: Command): () => Reply {
    const i = this.commands.length;
    this.commands.push(command);
    return () => {
      if (!this.replies) throw new Error('ReadPlan read before it ran');
      return this.replies[i];
    };
  }

  async run(session: RedisSession): Promise<void> {
    this.replies = await session.exec(this.commands);
  }
}
