import { rejectAfter } from '../clock/bounded.js';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis.factory.js';

/** A batch that Redis did not answer within REDIS_COMMAND_TIMEOUT_MS (frozen or unreachable). */
class RedisBatchTimeout extends Error {
  override name = 'RedisBatchTimeout';
}

/** One Redis command as `[name, ...args]`, the shape ioredis pipelines take. */
export type Command = [name: string, ...args: Array<string | number>];
/** One command's outcome: its own error (e.g. WRONGTYPE) or its reply. */
export type Reply = [error: Error | null, value: unknown];

/**
 * Buckets per SCAN page. A page this size costs the server a few ms (well inside the gate's
 * 50 ms budget) and keeps the page count low: 10,000 symbols under two patterns are a handful of
 * pages instead of the ~60 that COUNT 1000 needed.
 */
const SCAN_COUNT = 10_000;

/**
 * Hashes per script call. A script holds Redis while it runs, so other clients (the gate above
 * all) wait for it: 1,000 hashes is about 1–3 ms of server time per call, and the calls of one
 * batch still go out in one pipeline, i.e. one round trip.
 */
export const SCRIPT_CHUNK = 1000;

/** Arguments after which a batch's pipeline is sent and the next one started (see `send`). */
const SPLIT_ARGS = 2000;

export interface SessionOptions {
  /** Bound on one whole batch (pipeline, SCAN page, transaction); 0 = none. */
  timeoutMs?: number;
  /** Called when a batch times out, e.g. to reset the connection so late replies cannot pile up. */
  onTimeout?: () => void;
}

/**
 * Sends batches of commands and counts round trips, so a tick can prove its Redis cost does not
 * grow with the symbol count. One session per tick (or per request): the count is the session's.
 *
 * A round trip is one wait: every command of a batch is written before any reply is awaited.
 * Single Redis / Sentinel: the batch goes as one pipeline, or as a few pipelines written back to
 * back on the one connection (see `send`). Cluster: an ioredis pipeline needs every key in one
 * slot, which per-symbol keys are not, so the commands go out concurrently on the cluster client
 * (ioredis writes them back to back on each node's socket, so the latency is still about one
 * round trip per node, not one per command). Each SCAN page is a round trip of its own.
 */
export class RedisSession {
  private trips = 0;
  private scanTrips = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly isCluster: boolean,
    private readonly options: SessionOptions = {},
  ) {
    if (!isCluster) defineBatchScripts(client as Redis);
  }

  get roundTrips(): number {
    return this.trips;
  }
  /** The SCAN pages among `roundTrips`: they grow with the keyspace, not with the work done. */
  get scanRoundTrips(): number {
    return this.scanTrips;
  }
  /**
   * Whether a `Batch` may fold its hash reads and writes into Lua scripts. Not on a cluster: a
   * script's keys must all live in one slot there, and per-symbol keys do not.
   */
  get scripts(): boolean {
    return !this.isCluster;
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
    // A pipeline is written to the socket in one piece when exec() is called. Once a pipeline
    // holds a script call and enough arguments, it is sent and the next one started, so Redis
    // runs the first chunks while the next ones are still being encoded here; small batches
    // stay one write (each socket write has a fixed cost). Every pipeline is written before any
    // reply is awaited: still one round trip (one wait), on one connection, replies in order.
    const client = this.client as Redis;
    const parts: Array<Promise<Array<[Error | null, unknown]> | null>> = [];
    let from = 0;
    let args = 0;
    for (let i = 0; i < commands.length; i++) {
      args += commands[i].length;
      const last = i === commands.length - 1;
      if (!last && (!SCRIPT_COMMANDS.has(commands[i][0]) || args < SPLIT_ARGS)) continue;
      parts.push(client.pipeline(commands.slice(from, i + 1) as Command[]).exec());
      from = i + 1;
      args = 0;
    }
    const out: Reply[] = [];
    for (const res of await Promise.all(parts)) {
      if (!res) throw new Error('pipeline returned no replies');
      for (const reply of res) out.push(reply as Reply);
    }
    return out;
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
    return rejectAfter(work, ms, () => {
      this.options.onTimeout?.();
      return new RedisBatchTimeout(`${what} timed out after ${ms} ms`);
    });
  }
}

/** The batch scripts as commands of the client (the first argument is the key count). */
const BATCH_HMGET = 'p28BatchHmget';
const BATCH_HSET_EXPIRE = 'p28BatchHsetExpire';
const SCRIPT_COMMANDS = new Set<string>([BATCH_HMGET, BATCH_HSET_EXPIRE]);

/**
 * Registers the batch scripts on a client, once. ioredis then sends a script's body (EVAL) only the
 * first time on each connection and its SHA (EVALSHA) after that, and resends it as EVAL should
 * Redis answer NOSCRIPT (a restart, SCRIPT FLUSH): a script that was not found never ran, so the
 * resend cannot apply anything twice. Bodies sent with every call cost the tick real CPU
 * (bench/RESULTS.md).
 */
function defineBatchScripts(client: Redis): void {
  if (typeof (client as unknown as Record<string, unknown>)[BATCH_HMGET] === 'function') return;
  client.defineCommand(BATCH_HMGET, { lua: HMGET_SCRIPT });
  client.defineCommand(BATCH_HSET_EXPIRE, { lua: HSET_EXPIRE_SCRIPT });
}

/**
 * HMGET of the same fields on every key of KEYS (ARGV = the fields). Answers
 * `{values, absent, errors}`: every key's values in one string, NUL-separated (`#KEYS × #ARGV`
 * of them, '' where absent); `absent` one character per value, '1' where HMGET answered nil; and
 * the failed keys as `{index, error, ...}` (a key of the wrong type fails alone, as its own HMGET
 * would). One string instead of thousands of replies spares the client most of its reply
 * parsing. Should a value hold a NUL byte itself, `values` is the plain array instead (nil where
 * absent) and `absent` is empty.
 */
const HMGET_SCRIPT = `local nf = #ARGV
local vals, absent, errs, k = {}, {}, {}, 0
for i = 1, #KEYS do
  local r = redis.pcall('HMGET', KEYS[i], unpack(ARGV))
  if r.err then
    errs[#errs + 1] = i
    errs[#errs + 1] = r.err
    for _ = 1, nf do k = k + 1; vals[k] = ''; absent[k] = '1' end
  else
    for j = 1, nf do
      k = k + 1
      local v = r[j]
      if v then vals[k] = v; absent[k] = '0' else vals[k] = ''; absent[k] = '1' end
    end
  end
end
local packed = table.concat(vals, '\\0')
local _, seps = string.gsub(packed, '%z', '')
if seps == k - 1 then return {packed, table.concat(absent), errs} end
for j = 1, k do if absent[j] == '1' then vals[j] = false end end
return {vals, '', errs}`;

/**
 * HSET of the same fields then EXPIRE on every key of KEYS. ARGV = ttl, field count, 'packed' or
 * 'plain', the field names, then the values, nf per key in KEYS order: 'packed', all in one
 * NUL-separated string (one argument to encode instead of thousands); 'plain', one argument
 * each (used when a value holds a NUL byte). Both commands run for every key, as they would in a
 * pipeline; answers only the keys where something failed, as `{index, failed commands, first
 * error, ...}`, so a clean chunk answers an empty array.
 */
const HSET_EXPIRE_SCRIPT = `local ttl, nf, packed = ARGV[1], tonumber(ARGV[2]), ARGV[3] == 'packed'
local args, errs = {}, {}
for j = 1, nf do args[2 * j - 1] = ARGV[3 + j] end
local at, blob, pos = 3 + nf, ARGV[4 + nf], 1
local find, sub = string.find, string.sub
for i = 1, #KEYS do
  if packed then
    for j = 1, nf do
      local e = find(blob, '\\0', pos, true) or (#blob + 1)
      args[2 * j] = sub(blob, pos, e - 1)
      pos = e + 1
    end
  else
    for j = 1, nf do args[2 * j] = ARGV[at + j] end
    at = at + nf
  end
  local failed, msg = 0, nil
  local r = redis.pcall('HSET', KEYS[i], unpack(args, 1, 2 * nf))
  if type(r) == 'table' and r.err then failed = 1; msg = r.err end
  r = redis.pcall('EXPIRE', KEYS[i], ttl)
  if type(r) == 'table' and r.err then failed = failed + 1; msg = msg or r.err end
  if failed > 0 then
    errs[#errs + 1] = i
    errs[#errs + 1] = failed
    errs[#errs + 1] = msg
  end
end
return errs`;

/** What a hash write (HSET + EXPIRE) came to. */
export interface WriteOutcome {
  /** Commands that failed: 0, 1 or 2. */
  failed: number;
  error: Error | null;
}
const WRITTEN: WriteOutcome = Object.freeze({ failed: 0, error: null });

/** HMGETs of one field list: keys in call order. */
interface ReadGroup {
  fields: readonly string[];
  keys: string[];
  /** filled by run(): per command, its keys' values (nf per key, flat), and the per-key errors */
  chunks?: unknown[][];
  perChunk?: number;
  errors?: Map<number, Error>;
}

/** HSET + EXPIRE of one field list and TTL: keys and their values. */
interface WriteGroup {
  fields: readonly string[];
  ttlSec: number;
  keys: string[];
  values: Array<readonly string[]>;
  outcomes?: Map<number, WriteOutcome>;
}

/** Where a group's keys went in a pipeline: one command per key, or one script per chunk. */
interface Placement {
  at: number;
  /** keys per command: 1 = plain commands */
  perCommand: number;
}

/**
 * One round trip's worth of commands, collected from several readers or writers. Plain commands
 * go as they are. Hash reads and writes of many keys with the same fields (`hmget`, `hsetExpire`)
 * go as one Lua script per SCRIPT_CHUNK keys where the session allows it, which spares the client
 * one command object, promise and reply per key (at 10,000 symbols that was most of the tick);
 * on a cluster they go as plain commands. Either way each key's outcome is its own, as in a
 * pipeline. The getters that `add`/`hmget`/`hsetExpire` return are valid once the batch has run.
 */
export class Batch {
  /** The plain commands, in call order. */
  readonly commands: Command[] = [];
  private readonly reads = new Map<readonly string[], ReadGroup>();
  private readonly writes: WriteGroup[] = [];
  private replies?: Reply[];
  private failure?: Error;

  add(command: Command): () => Reply {
    const i = this.commands.length;
    this.commands.push(command);
    return () => {
      if (this.failure) return [this.failure, null];
      if (!this.replies) throw new Error('Batch read before it ran');
      return this.replies[i];
    };
  }

  /**
   * HMGET `fields` of `key`; the reply is the values array, as HMGET's. Keys read with the same
   * `fields` array (the same object) are grouped, so pass a constant.
   */
  hmget(key: string, fields: readonly string[]): () => Reply {
    let group = this.reads.get(fields);
    if (!group) {
      group = { fields, keys: [] };
      this.reads.set(fields, group);
    }
    const g = group;
    const i = g.keys.length;
    g.keys.push(key);
    return () => {
      if (this.failure) return [this.failure, null];
      if (!g.chunks || !g.perChunk || !g.errors) throw new Error('Batch read before it ran');
      const err = g.errors.get(i);
      if (err) return [err, null];
      const chunk = g.chunks[Math.floor(i / g.perChunk)];
      if (g.perChunk === 1) return [null, chunk];
      const nf = g.fields.length;
      const at = (i % g.perChunk) * nf;
      return [null, chunk.slice(at, at + nf)];
    };
  }

  /**
   * HSET `key` with `fields` = `values` (same order), then EXPIRE `ttlSec`. Consecutive writes
   * with the same `fields` array and TTL are grouped. `values` is kept, not copied.
   */
  hsetExpire(
    key: string,
    fields: readonly string[],
    values: readonly string[],
    ttlSec: number,
  ): () => WriteOutcome {
    if (values.length !== fields.length)
      throw new Error(`${fields.length} fields but ${values.length} values`);
    // checked here, not when the batch is packed: a bad value must fail its own write, not the batch
    for (const v of values) if (typeof v !== 'string') throw new TypeError(`${key}: a value is not a string`);
    let g = this.writes[this.writes.length - 1];
    if (!g || g.fields !== fields || g.ttlSec !== ttlSec) {
      g = { fields, ttlSec, keys: [], values: [] };
      this.writes.push(g);
    }
    const group = g;
    const i = group.keys.length;
    group.keys.push(key);
    group.values.push(values);
    return () => {
      if (this.failure) return { failed: 2, error: this.failure };
      if (!group.outcomes) throw new Error('Batch read before it ran');
      return group.outcomes.get(i) ?? WRITTEN;
    };
  }

  /** One round trip (none when the batch is empty). A transport error is thrown, not recorded. */
  async run(session: RedisSession): Promise<void> {
    const scripts = Boolean(session.scripts);
    const commands = [...this.commands];
    const readAt = [...this.reads.values()].map((g) => Batch.placeReads(g, commands, scripts));
    const writeAt = this.writes.map((g) => Batch.placeWrites(g, commands, scripts));
    const replies = commands.length === 0 ? [] : await session.exec(commands);
    this.replies = replies;
    [...this.reads.values()].forEach((g, n) => Batch.collectReads(g, readAt[n], replies));
    this.writes.forEach((g, n) => Batch.collectWrites(g, writeAt[n], replies));
  }

  /** Every getter answers `error` from now on: the batch never reached Redis, or its reply was lost. */
  fail(error: Error): void {
    this.failure = error;
  }

  private static placeReads(g: ReadGroup, commands: Command[], scripts: boolean): Placement {
    const at = commands.length;
    if (!scripts) {
      for (const key of g.keys) commands.push(['hmget', key, ...g.fields]);
      return { at, perCommand: 1 };
    }
    for (let from = 0; from < g.keys.length; from += SCRIPT_CHUNK) {
      const keys = g.keys.slice(from, from + SCRIPT_CHUNK);
      commands.push([BATCH_HMGET, keys.length, ...keys, ...g.fields]);
    }
    return { at, perCommand: SCRIPT_CHUNK };
  }

  private static collectReads(g: ReadGroup, place: Placement, replies: Reply[]): void {
    const errors = new Map<number, Error>();
    const chunks: Array<Array<string | null>> = [];
    const count = Math.ceil(g.keys.length / place.perCommand);
    for (let c = 0; c < count; c++) {
      const first = c * place.perCommand;
      const [err, reply] = replies[place.at + c];
      if (err) {
        const keys = Math.min(place.perCommand, g.keys.length - first);
        for (let i = 0; i < keys; i++) errors.set(first + i, err);
        chunks.push([]);
      } else if (place.perCommand === 1) {
        chunks.push(reply as Array<string | null>);
      } else {
        const [values, absent, failed] = reply as [string | Array<string | null>, string, unknown[]];
        if (typeof values === 'string') {
          const flat: Array<string | null> = values.split('\0');
          for (let k = 0; k < flat.length; k++) if (absent.charCodeAt(k) === 49) flat[k] = null;
          chunks.push(flat);
        } else {
          chunks.push(values);
        }
        for (let e = 0; e < failed.length; e += 2) {
          errors.set(first + Number(failed[e]) - 1, new Error(String(failed[e + 1])));
        }
      }
    }
    g.chunks = chunks;
    g.perChunk = place.perCommand;
    g.errors = errors;
  }

  private static placeWrites(g: WriteGroup, commands: Command[], scripts: boolean): Placement {
    const at = commands.length;
    const nf = g.fields.length;
    if (!scripts) {
      g.keys.forEach((key, i) => {
        const cmd: Command = ['hset', key];
        for (let j = 0; j < nf; j++) cmd.push(g.fields[j], g.values[i][j]);
        commands.push(cmd, ['expire', key, g.ttlSec]);
      });
      return { at, perCommand: 1 };
    }
    for (let from = 0; from < g.keys.length; from += SCRIPT_CHUNK) {
      const keys = g.keys.slice(from, from + SCRIPT_CHUNK);
      const values: string[] = [];
      let packable = true;
      for (let i = from; i < from + keys.length; i++) {
        for (const v of g.values[i]) {
          if (v.includes('\0')) packable = false;
          values.push(v);
        }
      }
      const cmd: Command = [BATCH_HSET_EXPIRE, keys.length, ...keys, g.ttlSec, nf];
      cmd.push(packable ? 'packed' : 'plain', ...g.fields);
      if (packable) cmd.push(values.join('\0'));
      else for (const v of values) cmd.push(v);
      commands.push(cmd);
    }
    return { at, perCommand: SCRIPT_CHUNK };
  }

  private static collectWrites(g: WriteGroup, place: Placement, replies: Reply[]): void {
    const outcomes = new Map<number, WriteOutcome>();
    if (place.perCommand === 1) {
      g.keys.forEach((_, i) => {
        const [hsetErr] = replies[place.at + 2 * i];
        const [expireErr] = replies[place.at + 2 * i + 1];
        const failed = (hsetErr ? 1 : 0) + (expireErr ? 1 : 0);
        if (failed > 0) outcomes.set(i, { failed, error: hsetErr ?? expireErr });
      });
    } else {
      const chunks = Math.ceil(g.keys.length / SCRIPT_CHUNK);
      for (let c = 0; c < chunks; c++) {
        const first = c * SCRIPT_CHUNK;
        const count = Math.min(SCRIPT_CHUNK, g.keys.length - first);
        const [err, reply] = replies[place.at + c];
        if (err) {
          // the whole script failed (e.g. OOM before its first write): as if both commands had
          for (let i = 0; i < count; i++) outcomes.set(first + i, { failed: 2, error: err });
          continue;
        }
        const failed = reply as unknown[];
        for (let e = 0; e < failed.length; e += 3) {
          outcomes.set(first + Number(failed[e]) - 1, {
            failed: Number(failed[e + 1]),
            error: new Error(String(failed[e + 2])),
          });
        }
      }
    }
    g.outcomes = outcomes;
  }
}
