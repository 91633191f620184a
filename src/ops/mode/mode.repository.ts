import { streamField } from '../../core/stream-fields.js';
import { runScript } from '../../platform/redis/scripts.js';
import { isWrongType } from '../../platform/redis/redis-errors.js';
import { parseUint } from '../../core/numbers.js';
import type { Redis } from 'ioredis';
import { Injectable } from '@nestjs/common';
import { AppConfig, type Mode } from '../../platform/config/index.js';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { GENESIS_HASH, toStreamFields, type LedgerEntry } from '../../core/ledger/ledger-entry.js';
import { parseModeState, type ModeState, type StateAction } from './mode-change.js';
import { CHANGE_SCRIPT, RESTORE_SCRIPT, SEED_SCRIPT } from './mode.scripts.js';

/** Daily sequence counters outlive their day by a week, then Redis drops them. */
export const SEQ_TTL_SEC = 8 * 24 * 3600;

type Exec = Array<[Error | null, unknown]> | null;
type StreamRows = Array<[string, string[]]>;

export interface ModeSnapshot {
  state: ModeState;
  problems: string[];
  /**
   * Set when the mode key holds another type (written by another service): `state` is then the
   * P28_MODE default, which must not be applied, seeded over or changed from.
   */
  unreadable?: string;
  /** hash of the ledger's last entry (GENESIS_HASH when empty) */
  head: string;
}

export interface ChangeWrite {
  expectedVersion: number;
  expectedHead: string;
  seqKeyDay: string;
  seq: number;
  action: StateAction;
  mode: Mode;
  symbol?: string;
  overrideMode?: Mode;
  changedAt: number;
  changedBy: string;
  expiresAt: number | null | undefined;
  /** with an expiry: the mode it reverts to */
  revertTo?: Mode;
  entry: LedgerEntry;
}

export type ChangeWriteResult =
  | { ok: true; streamId: string; replicated: boolean }
  | { ok: false; conflict: 'STALE' | 'HEAD' | 'SEQ' | 'TYPE'; found: string };

export interface RestoreWrite {
  expectedHead: string;
  entries: LedgerEntry[];
  /** max sequence per day among the entries */
  seqs: Record<string, number>;
  state?: {
    mode: Mode;
    version: number;
    changed_at: number;
    changed_by: string;
    operation_id: string;
    expires_at?: number;
    revert_to?: Mode;
  };
  overrides: ReadonlyMap<string, Mode>;
}

function unwrap(res: Exec): unknown[] {
  if (!res) throw new Error('redis transaction aborted');
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}

/**
 * The overrides reply of a MULTI: a key of another type (written by some other service) reads as
 * no overrides plus a problem, so the mode stays readable and a rollback (which deletes it) works.
 */
function overridesOf(res: Exec, i: number): { hash: Record<string, string>; problem?: string } {
  const err = res?.[i]?.[0];
  if (isWrongType(err)) {
    return { hash: {}, problem: `${Keys.modeOverrides} is not a hash; POST /ops/rollback deletes it` };
  }
  return { hash: {} };
}

/** The mode reply of a MULTI: a key of another type is named, never read as "no mode". */
function modeKeyProblem(res: Exec, i: number): string | undefined {
  return isWrongType(res?.[i]?.[0])
    ? `${Keys.mode} is not a hash (written by another service?); delete it to have the mode re-seeded from P28_MODE, which is then reported as shared state lost`
    : undefined;
}

/** The MULTI's replies, with a wrong-type reply at `indexes` read as an empty hash (reported apart). */
function withEmpty(res: Exec, indexes: number[]): Exec {
  return res
    ? res.map((r, j): [Error | null, unknown] => (indexes.includes(j) && isWrongType(r[0]) ? [null, {}] : r))
    : res;
}

function headOf(rows: StreamRows): string {
  if (rows.length === 0) return GENESIS_HASH;
  return streamField(rows[0][1], 'hash') ?? '';
}

/** Redis side of the mode: reads, the seed, and the atomic change / restore scripts. */
@Injectable()
export class ModeRepository {
  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  /** Mode, overrides and chain head in one round trip (MULTI on one hash tag). */
  async read(): Promise<ModeSnapshot> {
    const res = await this.redis.client
      .multi()
      .hgetall(Keys.mode)
      .hgetall(Keys.modeOverrides)
      .xrevrange(Keys.ledger, '+', '-', 'COUNT', 1)
      .exec();
    const bad = overridesOf(res, 1);
    const unreadable = modeKeyProblem(res, 0);
    const [mode, overrides, last] = unwrap(withEmpty(res, [0, 1])) as [
      Record<string, string>,
      Record<string, string>,
      StreamRows,
    ];
    const { state, problems } = parseModeState(mode, overrides, this.config.P28_MODE);
    return {
      state,
      problems: bad.problem ? [...problems, bad.problem] : problems,
      head: headOf(last),
      ...(unreadable ? { unreadable } : {}),
    };
  }

  /** What a change is computed from: the snapshot plus the day's sequence counter. */
  async readForChange(day: string): Promise<ModeSnapshot & { seq: number }> {
    const res = await this.redis.client
      .multi()
      .hgetall(Keys.mode)
      .hgetall(Keys.modeOverrides)
      .xrevrange(Keys.ledger, '+', '-', 'COUNT', 1)
      .get(Keys.ledgerSeq(day))
      .exec();
    const bad = overridesOf(res, 1);
    const unreadable = modeKeyProblem(res, 0);
    const [mode, overrides, last, seq] = unwrap(withEmpty(res, [0, 1])) as [
      Record<string, string>,
      Record<string, string>,
      StreamRows,
      string | null,
    ];
    const { state, problems } = parseModeState(mode, overrides, this.config.P28_MODE);
    const n = parseUint(seq) ?? 0;
    return {
      state,
      problems: bad.problem ? [...problems, bad.problem] : problems,
      head: headOf(last),
      seq: n,
      ...(unreadable ? { unreadable } : {}),
    };
  }

  async seed(mode: Mode, nowSec: number): Promise<boolean> {
    const r = await runScript(this.redis.client, SEED, 1, Keys.mode, mode, String(nowSec), 'P28_MODE');
    return r === 1;
  }

  /**
   * With REDIS_WAIT_REPLICAS > 0 (Sentinel), a change counts as done only once replicas hold it:
   * a failover right after an unreplicated write would otherwise drop the ledger entry.
   */
  private async waitForReplicas(): Promise<boolean> {
    const n = this.config.REDIS_WAIT_REPLICAS;
    if (n === 0 || !this.redis.topology.replicaWait) return true;
    try {
      const acked = Number(await (this.redis.client as Redis).wait(n, this.config.REDIS_WAIT_TIMEOUT_MS));
      return acked >= n;
    } catch {
      return false;
    }
  }

  async change(w: ChangeWrite): Promise<ChangeWriteResult> {
    const expires = w.expiresAt === undefined ? '-' : w.expiresAt === null ? '' : String(w.expiresAt);
    const res = (await runScript(
      this.redis.client,
      CHANGE,
      4,
      Keys.mode,
      Keys.modeOverrides,
      Keys.ledger,
      Keys.ledgerSeq(w.seqKeyDay),
      String(w.expectedVersion),
      w.expectedHead,
      String(w.seq),
      String(SEQ_TTL_SEC),
      w.action,
      w.mode,
      w.symbol ?? '',
      w.overrideMode ?? '',
      String(w.changedAt),
      w.changedBy,
      w.entry.operation_id,
      expires,
      Keys.modeChannel,
      GENESIS_HASH,
      w.revertTo ?? '',
      ...toStreamFields(w.entry),
    )) as [string, string];
    if (res[0] === 'OK') return { ok: true, streamId: res[1], replicated: await this.waitForReplicas() };
    return { ok: false, conflict: res[0] as 'STALE' | 'HEAD' | 'SEQ' | 'TYPE', found: res[1] };
  }

  async restore(
    w: RestoreWrite,
  ): Promise<{ ok: true; appended: number; stateRestored: boolean } | { ok: false; head: string }> {
    const days = Object.keys(w.seqs).sort();
    const overrides = [...w.overrides].flat();
    const s = w.state;
    const args = [
      w.expectedHead,
      GENESIS_HASH,
      Keys.modeChannel,
      String(SEQ_TTL_SEC),
      ...days.map((d) => String(w.seqs[d])),
      s ? '1' : '0',
      s?.mode ?? '',
      String(s?.version ?? 0),
      String(s?.changed_at ?? 0),
      s?.changed_by ?? '',
      s?.operation_id ?? '',
      s?.expires_at !== undefined ? String(s.expires_at) : '',
      s?.revert_to ?? '',
      String(overrides.length),
      ...overrides,
      ...w.entries.flatMap((e) => {
        const f = toStreamFields(e);
        return [String(f.length), ...f];
      }),
    ];
    const res = (await runScript(
      this.redis.client,
      RESTORE,
      3 + days.length,
      Keys.mode,
      Keys.modeOverrides,
      Keys.ledger,
      ...days.map((d) => Keys.ledgerSeq(d)),
      ...args,
    )) as [string, string | number, number?];
    if (res[0] === 'OK') return { ok: true, appended: Number(res[1]), stateRestored: res[2] === 1 };
    return { ok: false, head: String(res[1]) };
  }
}

const SEED = { name: 'p28ModeSeed', lua: SEED_SCRIPT };
const CHANGE = { name: 'p28ModeChange', lua: CHANGE_SCRIPT };
const RESTORE = { name: 'p28ModeRestore', lua: RESTORE_SCRIPT };
