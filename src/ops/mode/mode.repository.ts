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
import { acceptVerified } from '../../core/ledger/ledger-verify.js';
import { isMode } from '../../core/mode.js';
import { LedgerSigner } from '../ledger/ledger-signer.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { parseModeState, replayState, type ModeState, type StateAction } from './mode-change.js';
import { CHANGE_SCRIPT, RESTORE_SCRIPT, SEED_SCRIPT } from './mode.scripts.js';

/** Daily sequence counters outlive their day by a week, then Redis drops them. */
export const SEQ_TTL_SEC = 8 * 24 * 3600;

type Exec = Array<[Error | null, unknown]> | null;
type StreamRows = Array<[string, string[]]>;

export interface ModeSnapshot {
  state: ModeState;
  problems: string[];
  /**
   * Set when the mode key is unusable (another type, or a hash without a valid `mode`: another
   * service wrote it). `state` is then what the ledger's verified entries imply (version 0 and
   * P28_MODE without any), never seeded over; the next change replaces the key.
   */
  unreadable?: string;
  /**
   * With `unreadable`: whether every ledger entry verified, so the implied state is the ledger's
   * last. A change is not built on a state some entries were left out of.
   */
  ledgerIntact?: boolean;
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
  /** the mode key was unusable (ModeSnapshot.unreadable): the change replaces it */
  replaceKey?: boolean;
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

/** Why the mode key cannot be read as a mode, or undefined. Never read as "no mode". */
function modeKeyProblem(res: Exec, i: number): string | undefined {
  if (isWrongType(res?.[i]?.[0])) return `${Keys.mode} is not a hash (written by another service?)`;
  const hash = res?.[i]?.[1] as Record<string, string> | undefined;
  if (!hash || Object.keys(hash).length === 0) return undefined;
  const mode = Object.prototype.hasOwnProperty.call(hash, 'mode') ? hash.mode : undefined;
  return isMode(mode)
    ? undefined
    : `${Keys.mode} has no valid mode (field "mode" is ${JSON.stringify(mode ?? null).slice(0, 40)}; written by another service?)`;
}

const FROM_LEDGER =
  'the mode is the one its ledger entries imply until a change replaces the key (docs/runbook.md)';

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

interface Implied {
  /** the stream id and hash of the ledger's last entry when it was computed */
  tip: string;
  state: ModeState;
  intact: boolean;
}

/** Redis side of the mode: reads, the seed, and the atomic change / restore scripts. */
@Injectable()
export class ModeRepository {
  private implied?: Implied;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    private readonly signer: LedgerSigner,
    private readonly ledger: LedgerRepository,
  ) {}

  /** Mode, overrides and chain head in one round trip (MULTI on one hash tag). */
  async read(): Promise<ModeSnapshot> {
    const res = await this.redis.client
      .multi()
      .hgetall(Keys.mode)
      .hgetall(Keys.modeOverrides)
      .xrevrange(Keys.ledger, '+', '-', 'COUNT', 1)
      .exec();
    return this.snapshot(res);
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
    const snap = await this.snapshot(res);
    return { ...snap, seq: parseUint(res?.[3]?.[1] as string | null) ?? 0 };
  }

  private async snapshot(res: Exec): Promise<ModeSnapshot> {
    const bad = overridesOf(res, 1);
    const unreadable = modeKeyProblem(res, 0);
    const [mode, overrides, last] = unwrap(withEmpty(res, [0, 1])) as [
      Record<string, string>,
      Record<string, string>,
      StreamRows,
    ];
    const parsed = parseModeState(mode, overrides, this.config.P28_MODE);
    const problems = bad.problem ? [...parsed.problems, bad.problem] : parsed.problems;
    const head = headOf(last);
    if (!unreadable) return { state: parsed.state, problems, head };
    const implied = await this.impliedByLedger(`${last[0]?.[0] ?? ''} ${head}`);
    return {
      state: { ...implied.state, overrides: parsed.state.overrides },
      problems,
      head,
      unreadable: `${unreadable}; ${FROM_LEDGER}`,
      ledgerIntact: implied.intact,
    };
  }

  /**
   * The state the ledger's verified entries imply (signatures checked when signing is on); version 0
   * and P28_MODE when it holds no mode entry. Kept until the chain's last entry changes: the mode is
   * re-read every MODE_REFRESH_MS, on the gate's event loop, and the ledger is never trimmed.
   */
  private async impliedByLedger(tip: string): Promise<Implied> {
    if (this.implied?.tip === tip) return this.implied;
    const entries = (await this.ledger.all()).map((e) => e.entry);
    const { accepted } = acceptVerified(entries, this.signer.trust);
    const intact = accepted.length === entries.length;
    const r = replayState(accepted as unknown as LedgerEntry[], this.config.P28_MODE);
    const state: Implied['state'] = r
      ? {
          mode: r.mode,
          version: r.version,
          changed_at: r.changed_at,
          changed_by: r.changed_by,
          operation_id: r.operation_id,
          ...(r.expires_at !== undefined ? { expires_at: r.expires_at } : {}),
          ...(r.revert_to !== undefined ? { revert_to: r.revert_to } : {}),
          overrides: new Map(),
          stored: true,
        }
      : { mode: this.config.P28_MODE, version: 0, overrides: new Map(), stored: false };
    this.implied = { tip, state, intact };
    return this.implied;
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
      w.replaceKey ? '1' : '0',
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
