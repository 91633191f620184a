import { settledWithin } from '../../platform/clock/bounded.js';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConflictError } from '../../core/errors.js';
import { AppConfig } from '../../platform/config/index.js';
import { HealthParts } from '../../platform/observability/health-parts.js';
import { Metrics } from '../../platform/observability/metrics.js';
import { replayState } from '../mode/mode-change.js';
import { ModeRepository } from '../mode/mode.repository.js';
import { GENESIS_HASH, parseOperationId, type LedgerEntry } from '../../core/ledger/ledger-entry.js';
import { LedgerFile } from './ledger-file.js';
import { LedgerSigner } from './ledger-signer.js';
import { acceptVerified, ChainCursor, type LedgerBreak } from '../../core/ledger/ledger-verify.js';
import { LedgerRepository } from './ledger.repository.js';
import { PolicyRepository } from '../policy/policy.repository.js';
import { ledgerUnavailable } from './ledger.service.js';
import { chainHeadLine } from './ledger-head.js';

export type MirrorStatus =
  'unchecked' | 'in_sync' | 'missing_in_redis' | 'forked' | 'redis_chain_broken' | 'redis_unavailable';

export interface RestoreResult {
  restored: number;
  state_restored: boolean;
  entries: number;
  missing_in_redis: number;
}

const STARTUP_CHECK_MS = 2000;
/** How often a replica looks again while Redis lacks mirrored entries. */
const RESTORE_RETRY_MS = 1000;

/**
 * The optional LEDGER_FILE mirror: an append-only JSONL copy of the ledger stream, one fsynced line
 * per entry, that survives a Redis that lost its data. Every replica follows the stream (its own
 * writes at once, others' on the change notification), so each file holds the whole ledger. When
 * Redis lacks entries the file has, /health says how many and `restore()` puts them back.
 * Use one file per replica: two processes appending to one file would interleave.
 */
@Injectable()
export class LedgerMirror implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('LedgerMirror');
  private readonly path?: string;
  private file?: LedgerFile;
  /** the file's entries that verify, in order: the only ones ever restored */
  private entries: LedgerEntry[] = [];
  /** positioned after the last entry of `entries` */
  private cursor: ChainCursor;
  /** file lines that do not verify (skipped: never restored or applied) */
  private fileRejected: LedgerBreak[] = [];
  /** the Redis entry that stopped the mirror from following the stream, if any */
  private redisRejected?: LedgerBreak;
  private readonly counted = new Set<string>();
  private unreadableLines = 0;
  private status: MirrorStatus = 'unchecked';
  private missing = 0;
  /** entries of the file that Redis also holds, as a prefix */
  private common = 0;
  private redisHeadSeen?: string;
  private writeError?: string;
  private lock: Promise<unknown> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private retrying = false;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly ledger: LedgerRepository,
    private readonly repo: ModeRepository,
    private readonly metrics: Metrics,
    private readonly health: HealthParts,
    private readonly signer: LedgerSigner,
    private readonly policyRepo: PolicyRepository,
  ) {
    this.path = config.LEDGER_FILE;
    this.cursor = new ChainCursor(signer.trust);
  }

  /** Entries refused by verification that the mirror currently knows of. */
  get rejected(): LedgerBreak[] {
    return [...this.fileRejected, ...(this.redisRejected ? [this.redisRejected] : [])];
  }

  get enabled(): boolean {
    return this.path !== undefined;
  }
  get missingInRedis(): number {
    return this.missing;
  }

  async onModuleInit() {
    this.health.add('ledger', () => {
      const causes = [
        ...(this.missing > 0
          ? [
              `${this.missing} ledger entries of the LEDGER_FILE mirror are missing in Redis (${this.status}): POST /ops/ledger/restore`,
            ]
          : []),
        ...(this.rejected.length > 0
          ? [
              `${this.rejected.length} ledger entries refused by verification (${this.rejected
                .map((b) => `${b.operation_id ?? '?'} ${b.problem}`)
                .join(', ')})`,
            ]
          : []),
      ];
      return {
        ok: true,
        detail: this.describe(),
        ...(causes.length ? { degraded: causes.join('; ') } : {}),
      };
    });
    if (!this.path) return;
    this.load(this.path);
    // the first reconcile records the head, so the mode cache's first read will not trigger a
    // restore: the startup check restores by itself
    await settledWithin(
      this.serialized(() => this.reconcile()).then(() => this.autoRestore()),
      STARTUP_CHECK_MS,
    );
    this.retryTimer = setInterval(() => void this.retryRestore(), RESTORE_RETRY_MS);
    this.retryTimer.unref();
  }

  onApplicationShutdown() {
    clearInterval(this.retryTimer);
    this.stopped = true;
    this.file?.close();
    this.file = undefined;
  }

  /** While entries are missing (or Redis was unreachable), look again and restore when allowed. */
  private async retryRestore(): Promise<void> {
    if (this.stopped || this.retrying) return;
    if (this.status !== 'missing_in_redis' && this.status !== 'redis_unavailable') return;
    this.retrying = true;
    try {
      await this.serialized(() => this.reconcile());
      await this.autoRestore();
    } catch {
      // Redis still down: the next round tries again
    } finally {
      this.retrying = false;
    }
  }

  /** Mirrors an entry this replica just wrote (after its script succeeded). */
  async recordWritten(entry: LedgerEntry): Promise<void> {
    if (!this.enabled) return;
    await this.serialized(async () => {
      if (entry.prev_hash === this.head() && this.status === 'in_sync') {
        this.append(entry);
        this.common = this.entries.length;
        this.redisHeadSeen = entry.hash;
      } else {
        await this.reconcile();
      }
    }).catch((err: Error) => this.logger.error({ msg: 'ledger mirror update failed', error: err.message }));
  }

  /** Called with the stream's head after each mode read: catches up when it moved. */
  noticeHead(redisHead: string): void {
    if (!this.enabled || redisHead === this.redisHeadSeen) return;
    void this.serialized(() => this.reconcile())
      .then(() => this.autoRestore())
      .catch(() => undefined);
  }

  /**
   * Redis lost entries the file holds (a restart without persistence): put them back at once,
   * unless an operator wants to look first (LEDGER_AUTO_RESTORE=0). A fork is never auto-resolved.
   */
  private async autoRestore(): Promise<void> {
    if (!this.config.LEDGER_AUTO_RESTORE || this.status !== 'missing_in_redis' || this.missing === 0) return;
    try {
      const r = await this.restore('system');
      this.logger.warn({ msg: 'ledger auto-restored from LEDGER_FILE', restored: r.restored });
    } catch (err) {
      this.logger.error({ msg: 'ledger auto-restore failed', error: (err as Error).message });
    }
  }

  /**
   * A change made while Redis lacks mirrored entries would fork the chain. Restoring them would
   * also bring back the state they imply, so an ordinary change is refused (409) and the operator
   * restores on purpose; a change to shadow (rollback, auto-revert) restores first, since it ends
   * in shadow anyway.
   */
  async restoreBeforeChange(towardsShadow: boolean): Promise<void> {
    if (!this.enabled || this.missing === 0) return;
    if (!towardsShadow) {
      throw new ConflictError(
        `${this.missing} ledger entries of the LEDGER_FILE mirror are missing in Redis, and the mode they imply may differ from what Redis holds now; run POST /ops/ledger/restore (it restores that mode too), check GET /ops/mode, then retry`,
        { missing_in_redis: this.missing, action: 'POST /ops/ledger/restore' },
      );
    }
    try {
      const r = await this.restore('system');
      this.logger.warn({ msg: 'restored missing ledger entries before a mode change', restored: r.restored });
    } catch (err) {
      this.logger.error({
        msg: 'could not restore the ledger before a mode change',
        error: (err as Error).message,
      });
    }
  }

  /**
   * Re-appends the entries Redis lacks, in order, with their original fields and hashes, and the
   * state they imply when Redis's state is older. Idempotent; refused when the file's chain is
   * broken or Redis holds entries the file does not (a fork an operator must look at).
   */
  async restore(actor: string): Promise<RestoreResult> {
    if (!this.enabled) {
      throw new ConflictError('LEDGER_FILE is not configured: there is no mirror to restore from');
    }
    return this.serialized(async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        await this.reconcile().catch((err: Error) => {
          throw ledgerUnavailable(err);
        });
        if (this.status === 'forked' || this.status === 'redis_chain_broken') {
          throw new ConflictError(
            this.status === 'forked'
              ? `the ledger in Redis has entries the file does not after entry #${this.common}: the chains forked; compare them before restoring`
              : 'the ledger in Redis does not verify; run GET /ops/ledger/verify',
            { status: this.status },
          );
        }
        if (this.missing === 0) {
          await this.policyRepo.restoreFrom(this.entries).catch((err: Error) => {
            throw ledgerUnavailable(err);
          });
          return this.result(0, false);
        }
        const missingEntries = this.entries.slice(this.common);
        const seqs: Record<string, number> = {};
        for (const e of missingEntries) {
          const id = parseOperationId(e.operation_id);
          if (id) seqs[id.day] = Math.max(seqs[id.day] ?? 0, id.seq);
        }
        const state = replayState(this.entries, this.config.P28_MODE);
        const res = await this.repo
          .restore({
            expectedHead: this.common > 0 ? this.entries[this.common - 1].hash : GENESIS_HASH,
            entries: missingEntries,
            seqs,
            state,
            overrides: state?.overrides ?? new Map(),
          })
          .catch((err: Error) => {
            // safe to retry: the script re-checks the chain head, so nothing is appended twice
            throw ledgerUnavailable(err);
          });
        if (!res.ok) continue; // the stream moved meanwhile: look again
        // the policy's entries imply its state too; idempotent, so a retried restore finishes it
        const policyRestored = await this.policyRepo.restoreFrom(this.entries).catch((err: Error) => {
          throw ledgerUnavailable(err);
        });
        this.logger.warn({
          msg: 'ledger entries restored from LEDGER_FILE',
          actor,
          restored: res.appended,
          state_restored: res.stateRestored,
          mode: res.stateRestored ? state?.mode : undefined,
          policy_restored: policyRestored,
        });
        const head = this.entries.at(-1);
        if (res.appended > 0 && head) {
          this.logger.log(chainHeadLine(head));
        }
        if (res.stateRestored && state?.mode === 'enforce' && state.expires_at === undefined) {
          this.logger.warn({
            msg: 'restored mode is enforce, without expiry',
            operation_id: state.operation_id,
          });
        }
        this.redisHeadSeen = undefined;
        await this.reconcile();
        return this.result(res.appended, res.stateRestored);
      }
      throw new ConflictError('the ledger kept changing during the restore; retry');
    });
  }

  describe(): Record<string, unknown> {
    const signed = this.signer.signed;
    if (!this.path) return { mirror: 'off', signed };
    // open /health: the file's path stays in the logs, not here
    const rejected = this.rejected.map((b) => ({ operation_id: b.operation_id, problem: b.problem }));
    return {
      mirror: 'on',
      signed,
      status: this.status,
      file_entries: this.entries.length,
      missing_in_redis: this.missing,
      ...(rejected.length ? { rejected } : {}),
      ...(this.unreadableLines ? { unreadable_lines: this.unreadableLines } : {}),
      ...(this.writeError ? { write_error: this.writeError } : {}),
      ...(this.missing > 0 && this.status === 'missing_in_redis'
        ? { action: 'POST /ops/ledger/restore re-appends them' }
        : {}),
    };
  }

  private result(restored: number, stateRestored: boolean): RestoreResult {
    return {
      restored,
      state_restored: stateRestored,
      entries: this.entries.length,
      missing_in_redis: this.missing,
    };
  }

  private head(): string {
    return this.entries.at(-1)?.hash ?? GENESIS_HASH;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private load(path: string) {
    const { file, records, unreadable } = LedgerFile.open(path);
    this.file = file;
    this.entries = records as LedgerEntry[];
    for (const line of unreadable) {
      this.unreadableLines++;
      this.logger.warn({ msg: 'unreadable line in LEDGER_FILE skipped', file: path, line });
    }
    const { accepted, rejected, cursor } = acceptVerified(
      this.entries as unknown as Array<Record<string, unknown>>,
      this.signer.trust,
    );
    this.entries = accepted as unknown as LedgerEntry[];
    this.cursor = cursor;
    this.fileRejected = rejected;
    for (const b of rejected) this.refuse(b, 'LEDGER_FILE');
    this.logger.log({
      msg: 'ledger mirror opened',
      file: path,
      entries: this.entries.length,
      refused: rejected.length,
    });
  }

  private append(entry: LedgerEntry) {
    if (this.file === undefined) return;
    try {
      this.file.append(entry);
      this.writeError = undefined;
      this.entries.push(entry);
      this.cursor.advance(entry as unknown as Record<string, unknown>);
    } catch (err) {
      // Redis already holds the entry; the mirror is behind until the next successful catch-up
      this.writeError = (err as Error).message;
      this.logger.error({
        msg: 'LEDGER_FILE append failed',
        error: this.writeError,
        operation_id: entry.operation_id,
      });
      throw err;
    }
  }

  /** Compares the file with the stream; appends what the file lacks, counts what Redis lacks. */
  private async reconcile(): Promise<void> {
    let redis;
    try {
      redis = await this.ledger.all();
    } catch (err) {
      this.setStatus('redis_unavailable', this.missing);
      throw err;
    }
    let common = 0;
    while (
      common < redis.length &&
      common < this.entries.length &&
      redis[common].entry.hash === this.entries[common].hash
    ) {
      common++;
    }
    this.common = common;
    this.redisHeadSeen = (redis.at(-1)?.entry.hash as string | undefined) ?? GENESIS_HASH;
    this.redisRejected = undefined;
    if (common === this.entries.length) {
      for (const [i, { entry, stream_id }] of redis.slice(common).entries()) {
        const problems = this.cursor.check(entry);
        if (problems.length > 0) {
          // never adopted: the mirror stops here until the stream is repaired
          const op = typeof entry.operation_id === 'string' ? entry.operation_id : null;
          this.redisRejected = { operation_id: op, index: common + i, stream_id, ...problems[0] };
          this.refuse(this.redisRejected, 'Redis');
          this.setStatus('redis_chain_broken', 0);
          return;
        }
        this.append(entry as unknown as LedgerEntry);
        this.common++;
      }
      this.setStatus('in_sync', 0);
    } else if (common === redis.length) {
      this.setStatus('missing_in_redis', this.entries.length - common);
    } else {
      const inRedis = new Set(redis.map((r) => r.entry.hash));
      this.setStatus('forked', this.entries.filter((e) => !inRedis.has(e.hash)).length);
    }
  }

  /** Reports a refused entry: a log line and a count the first time, /health while it lasts. */
  private refuse(b: LedgerBreak, where: 'Redis' | 'LEDGER_FILE') {
    const key = `${where}:${b.operation_id}:${b.index}:${b.problem}`;
    if (this.counted.has(key)) return;
    this.counted.add(key);
    this.metrics.ledgerRejected.inc({ problem: b.problem });
    this.logger.error({
      msg: `ledger entry refused (${b.problem}): never adopted, restored or applied`,
      source: where,
      operation_id: b.operation_id,
      problem: b.problem,
      detail: b.detail,
      ...(b.stream_id ? { stream_id: b.stream_id } : {}),
    });
  }

  private setStatus(status: MirrorStatus, missing: number) {
    if (status !== this.status || missing !== this.missing) {
      const line = { msg: `ledger mirror ${status}`, status, missing_in_redis: missing, file: this.path };
      if (status === 'in_sync') this.logger.log(line);
      else if (status === 'missing_in_redis') {
        this.logger.warn({ ...line, action: 'POST /ops/ledger/restore re-appends them' });
      } else this.logger.warn(line);
    }
    this.status = status;
    this.missing = missing;
    this.metrics.ledgerMissingEntries.set(missing);
  }
}
