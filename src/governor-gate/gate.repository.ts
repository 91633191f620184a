import { isWrongType } from '../platform/redis/redis-errors.js';
import { settledWithin } from '../platform/clock/bounded.js';
import { once } from 'node:events';
import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../platform/config/index.js';
import { Keys } from '../platform/redis/keys.js';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../platform/redis/redis.factory.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { POSITION_FIELDS, positionHashFromList, type PositionHash } from '../core/position.js';
import type { GateSnapshot } from './gate.types.js';

const MODE_FIELDS = ['mode', 'expires_at', 'revert_to'] as const;
const BUDGET_FIELDS = [
  'budget_usd',
  'timestamp',
  'position_notional',
  'price',
  'equity_usd',
  'portfolio_heat',
  'cluster_stress',
  'vol_regime',
  'policy_version',
] as const;

/** Rejection of a read that outlived GATE_TIMEOUT_MS. One instance: a timeout costs no stack trace. */
class GateReadTimeout extends Error {
  constructor() {
    super('gate read timed out');
    this.name = 'GateReadTimeout';
  }
}
export const GATE_READ_TIMEOUT = new GateReadTimeout();

/**
 * The single-Redis read: one script, so one command, one reply and one timer per decision (cheaper
 * in client CPU than a six-command pipeline: bench/RESULTS.md). A key of the wrong type (someone wrote a
 * string where a hash belongs) is bad data for that input, not an unreachable Redis: `pcall` turns
 * it into "absent" instead of failing the whole read.
 * KEYS: mode, overrides, budget, violation, position, legacy position. ARGV: symbol.
 */
const luaFields = (fields: readonly string[]) => fields.map((f) => `'${f}'`).join(', ');

const GATE_READ_LUA = `
local function get(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then return false end
  return r
end
return {
  get('HMGET', KEYS[1], ${luaFields(MODE_FIELDS)}),
  get('HGET', KEYS[2], ARGV[1]),
  get('HMGET', KEYS[3], ${luaFields(BUDGET_FIELDS)}),
  get('HMGET', KEYS[4], 'timestamp'),
  get('HMGET', KEYS[5], ${luaFields(POSITION_FIELDS)}),
  get('HMGET', KEYS[6], ${luaFields(POSITION_FIELDS)})
}`;

type Fields = (string | null)[] | null;
type ReadReply = [Fields, string | null, Fields, Fields, Fields, Fields];
type GateReadClient = RedisClient & {
  p28GateRead(...args: string[]): Promise<ReadReply>;
};

/** Registers the read script on a client (ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT). */
function defineGateRead(client: RedisClient): void {
  client.defineCommand('p28GateRead', { numberOfKeys: 6, lua: GATE_READ_LUA });
}

function position(v: Fields): PositionHash | null {
  if (!v || v.every((f) => f === null)) return null;
  return positionHashFromList(v);
}

function toSnapshot(r: ReadReply): GateSnapshot {
  const [mode, override, budget, violation, pos, legacy] = r;
  return {
    mode: mode?.[0] ?? null,
    modeExpiresAt: mode?.[1] ?? null,
    modeRevertTo: mode?.[2] ?? null,
    override: override || null,
    budgetUsd: budget?.[0] ?? null,
    budgetTimestamp: budget?.[1] ?? null,
    budgetPositionNotional: budget?.[2] ?? null,
    budgetPrice: budget?.[3] ?? null,
    budgetEquity: budget?.[4] ?? null,
    budgetHeat: budget?.[5] ?? null,
    budgetCluster: budget?.[6] ?? null,
    budgetVol: budget?.[7] ?? null,
    budgetPolicyVersion: budget?.[8] ?? null,
    violationTimestamp: violation?.[0] ?? null,
    position: position(pos),
    legacyPosition: position(legacy),
  };
}

/** Cluster: as the script's `pcall`, a WRONGTYPE reads as absent and any other error fails the read. */
function orAbsent<T>(p: Promise<T>): Promise<T | null> {
  return p.catch((e: Error) => {
    if (isWrongType(e)) return null;
    throw e;
  });
}

/**
 * Everything one decision needs, in one round trip. On a single Redis (or Sentinel) that is one
 * script (`defineGateRead` must have run on the client). On a Cluster the mode keys share slot
 * {p28:ops} but the budget, violation and position keys hash elsewhere, so neither a script nor a
 * pipeline may span them: the six commands are issued back to back without awaiting each other,
 * which ioredis writes to the nodes at once; the wait is the slowest node's round trip, not the sum.
 */
function readGateSnapshot(
  client: RedisClient,
  symbol: string,
  cluster: boolean,
  k: readonly string[] = gateKeys(symbol, Keys.positionPatterns),
): Promise<GateSnapshot> {
  if (!cluster) {
    return (client as GateReadClient)
      .p28GateRead(k[0], k[1], k[2], k[3], k[4], k[5], symbol)
      .then(toSnapshot);
  }
  return Promise.all([
    orAbsent(client.hmget(k[0], ...MODE_FIELDS)),
    orAbsent(client.hget(k[1], symbol)),
    orAbsent(client.hmget(k[2], ...BUDGET_FIELDS)),
    orAbsent(client.hmget(k[3], 'timestamp')),
    orAbsent(client.hmget(k[4], ...POSITION_FIELDS)),
    orAbsent(client.hmget(k[5], ...POSITION_FIELDS)),
  ]).then((r) => toSnapshot(r as ReadReply));
}

/** Key names per symbol cached by each reader (bounded: past the cap they are built per call). */
const KEY_CACHE_MAX = 1000;

/**
 * The six keys one decision reads. Positions come from POSITION_KEY_PATTERNS, like the engine's:
 * the first two patterns, primary first (one pattern is read twice).
 */
export function gateKeys(symbol: string, positionPatterns: readonly string[]): readonly string[] {
  const primary = positionPatterns[0] ?? Keys.positionPatterns[0];
  const secondary = positionPatterns[1] ?? primary;
  return [
    Keys.mode,
    Keys.modeOverrides,
    Keys.budget(symbol),
    Keys.violation(symbol),
    primary.replace('*', symbol),
    secondary.replace('*', symbol),
  ];
}

/**
 * ioredis opens a cluster node's connection on the first command routed to it. For the gate that
 * first command carries a decision, and connect plus ready check alone can outlast GATE_TIMEOUT_MS:
 * the first plan for each node's slots after boot (or after a node joins or fails over) would fail
 * open with `timeout` for no reason but a cold socket. So every node the client learns of is
 * connected at once.
 */
function connectNodesEagerly(cluster: Cluster): void {
  cluster.on('+node', (node: Redis) => {
    if (node.status === 'wait') node.connect().catch(() => undefined);
  });
}

/** ioredis options of the gate's own connection: fail fast instead of queueing or retrying. */
export function gateClientOptions(timeoutMs: number) {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    autoResubscribe: false,
  };
}

interface Waiting {
  symbol: string;
  resolve: (s: GateSnapshot) => void;
  reject: (e: unknown) => void;
}

/**
 * Sends the reads of all requests that arrived in the same event-loop turn as one pipeline, so one
 * socket write carries them (a write syscall per request would dominate the cost of a decision).
 * Unlike ioredis's enableAutoPipelining, which holds new commands until the pipeline in
 * flight has answered, every batch goes out at once: a slow Redis does not make later requests wait
 * for earlier ones, which would spend their GATE_TIMEOUT_MS before they were even sent.
 * Each read is still one script per request, with its own reply. Cluster: no batching (the keys of
 * one read are on several nodes), `readGateSnapshot` per request.
 * With `timeoutMs`, every read rejects with GATE_READ_TIMEOUT once that long has passed since it was
 * asked for (counted from the call, not the send): one timer per batch, one per cluster read.
 */
export class GateReader {
  private waiting: Waiting[] = [];
  private scheduled = false;
  /** performance.now() of the oldest read waiting for the next flush */
  private batchStart = 0;

  private readonly keyCache = new Map<string, readonly string[]>();

  constructor(
    private readonly client: RedisClient,
    private readonly cluster: boolean,
    private readonly positionPatterns: readonly string[] = Keys.positionPatterns,
    private readonly timeoutMs?: number,
  ) {
    if (!cluster) defineGateRead(client);
  }

  private keysFor(symbol: string): readonly string[] {
    let k = this.keyCache.get(symbol);
    if (k) return k;
    k = gateKeys(symbol, this.positionPatterns);
    if (this.keyCache.size < KEY_CACHE_MAX) this.keyCache.set(symbol, k);
    return k;
  }

  read(symbol: string): Promise<GateSnapshot> {
    if (this.cluster) return this.bounded(readGateSnapshot(this.client, symbol, true, this.keysFor(symbol)));
    return new Promise((resolve, reject) => {
      this.waiting.push({ symbol, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.batchStart = performance.now();
        setImmediate(this.flush);
      }
    });
  }

  /** A cluster read is several commands: one timer races them, from the call. */
  private bounded(read: Promise<GateSnapshot>): Promise<GateSnapshot> {
    if (this.timeoutMs === undefined) return read;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(reject, this.timeoutMs, GATE_READ_TIMEOUT);
      read.then(
        (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private readonly flush = () => {
    const batch = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    // a settled promise ignores later calls: whichever of reply and timer comes first decides
    const timer =
      this.timeoutMs === undefined
        ? undefined
        : setTimeout(rejectAll, Math.max(0, this.batchStart + this.timeoutMs - performance.now()), batch);
    if (batch.length === 1) {
      const w = batch[0];
      readGateSnapshot(this.client, w.symbol, false, this.keysFor(w.symbol)).then(
        (s) => {
          clearTimeout(timer);
          w.resolve(s);
        },
        (e: unknown) => {
          clearTimeout(timer);
          w.reject(e);
        },
      );
      return;
    }
    const pipeline = (this.client as Redis).pipeline() as unknown as GateReadClient & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const w of batch) {
      const k = this.keysFor(w.symbol);
      void pipeline.p28GateRead(k[0], k[1], k[2], k[3], k[4], k[5], w.symbol);
    }
    pipeline.exec().then(
      (replies) => {
        clearTimeout(timer);
        for (let i = 0; i < batch.length; i++) {
          const r = replies?.[i];
          if (!r) batch[i].reject(new Error('no reply in pipeline'));
          else if (r[0]) batch[i].reject(r[0]);
          else batch[i].resolve(toSnapshot(r[1] as ReadReply));
        }
      },
      (err: unknown) => {
        clearTimeout(timer);
        for (const w of batch) w.reject(err);
      },
    );
  };
}

function rejectAll(batch: Waiting[]): void {
  for (const w of batch) w.reject(GATE_READ_TIMEOUT);
}

/**
 * The gate's read side, on a dedicated connection: a request never waits in the offline queue or
 * for a retry (the shared client does both), and the reader's timers bound even a frozen Redis,
 * which keeps the TCP connection open and so never errors by itself.
 */
@Injectable()
export class GateRepository implements OnApplicationBootstrap {
  readonly client: RedisClient;
  private readonly reader: GateReader;
  private readonly cluster: boolean;

  constructor(redis: RedisService, config: AppConfig) {
    this.cluster = !redis.topology.crossSlotScripts;
    this.client = redis.dedicated('gate', gateClientOptions(config.GATE_TIMEOUT_MS));
    this.reader = new GateReader(
      this.client,
      this.cluster,
      config.POSITION_KEY_PATTERNS,
      config.GATE_TIMEOUT_MS,
    );
    if (this.cluster) connectNodesEagerly(this.client as Cluster);
  }

  /**
   * Gives the connection a moment at boot so the first plans are not failed open for nothing
   * (on a cluster: every master's connection, see connectNodesEagerly).
   */
  async onApplicationBootstrap(): Promise<void> {
    await settledWithin(this.connected(), 2000);
  }

  /**
   * Checked per decision, so it stays one property read. On a cluster it means the slot map is
   * loaded; the per-node connections are warmed separately (connectNodesEagerly).
   */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Cluster: whether every master's connection is up too (walks the nodes: not for the hot path). */
  get allNodesReady(): boolean {
    if (!this.ready) return false;
    return !this.cluster || (this.client as Cluster).nodes('master').every((n) => n.status === 'ready');
  }

  private async connected(): Promise<void> {
    if (this.client.status !== 'ready') await once(this.client, 'ready').catch(() => undefined);
    if (!this.cluster) return;
    await Promise.all(
      (this.client as Cluster)
        .nodes('master')
        .map((n) => (n.status === 'ready' ? undefined : once(n, 'ready').catch(() => undefined))),
    );
  }

  get status(): string {
    return this.client.status;
  }

  /** Rejects with GATE_READ_TIMEOUT past GATE_TIMEOUT_MS from this call, or with the Redis error. */
  read(symbol: string): Promise<GateSnapshot> {
    return this.reader.read(symbol);
  }
}
