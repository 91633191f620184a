import { hostname } from 'node:os';
import { Injectable, Logger } from '@nestjs/common';
import { ConflictError, UnavailableError } from '../../core/errors.js';
import { Clock } from '../../platform/clock/clock.js';
import { AppConfig, type Mode } from '../../platform/config/index.js';
import { Metrics } from '../../platform/observability/metrics.js';
import { Keys } from '../../platform/redis/keys.js';
import { formatOperationId, utcDay, type LedgerEntry } from '../../core/ledger/ledger-entry.js';
import { LedgerSigner } from '../ledger/ledger-signer.js';
import { LedgerMirror } from '../ledger/ledger-mirror.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { chainHeadLine } from '../ledger/ledger-head.js';
import { planChange, RollbackTarget, type ChangeIntent, type ModeState } from './mode-change.js';
import { ModeCache } from './mode-cache.js';
import { ModeRepository, type ChangeWrite } from './mode.repository.js';

export interface ChangeRequest {
  intent: ChangeIntent;
  actor: string;
  reason: string;
  /** compare-and-set: refuse with 409 unless the stored version is this one */
  expectedVersion?: number;
}

interface AppliedChange {
  /** the global mode, or the symbol's effective mode for an override change */
  mode: Mode;
  version: number;
  operation_id: string;
  /** a global change's expiry only: an override never carries it */
  expires_at?: number;
  symbol?: string;
  entry: LedgerEntry;
}

/** A rollback with nothing to undo: nothing written; operation_id is the current state's entry. */
interface UnchangedResult {
  mode: Mode;
  version: number;
  operation_id?: string;
  unchanged: true;
}

export type ChangeResult = AppliedChange | UnchangedResult;

/** Attempts when the chain head or the day's counter moved under a change that gave no version. */
const MAX_ATTEMPTS = 5;

/**
 * Redis failed under a change. Before the script ran nothing was written; if the script itself
 * timed out it may still have run, so the operator is told to look rather than assume.
 */
function redisUnavailable(err: Error, duringWrite: boolean): UnavailableError {
  return new UnavailableError(
    duringWrite
      ? `Redis failed during the change (${err.message}); it may or may not have been applied: check GET /ops/mode and GET /ops/ledger before retrying`
      : `Redis is unavailable (${err.message}); nothing was changed`,
    { outcome: duringWrite ? 'unknown' : 'not_applied' },
  );
}

/**
 * The expiry fields a change writes. An unusable mode key (ModeSnapshot.unreadable) is replaced
 * whole, so an expiry the change keeps is written out from the state the ledger implied.
 */
function keyWrite(
  plan: { expires_at?: number | null; revert_to?: Mode },
  replaced: ModeState | undefined,
): Pick<ChangeWrite, 'expiresAt' | 'revertTo' | 'replaceKey'> {
  const keep = plan.expires_at === undefined;
  const expiresAt = keep && replaced ? (replaced.expires_at ?? null) : plan.expires_at;
  const revertTo = keep && replaced ? replaced.revert_to : plan.revert_to;
  return {
    expiresAt,
    ...(revertTo !== undefined ? { revertTo } : {}),
    ...(replaced ? { replaceKey: true } : {}),
  };
}

function staleVersion(current: number, expected: number): ConflictError {
  return new ConflictError(
    `expected_version ${expected} is stale: the mode is at version ${current}; re-read GET /ops/mode and retry`,
    { current_version: current },
  );
}

/**
 * Changes to the mode: each is one atomic script that writes the state and its ledger entry
 * together, then refreshes the cache so this replica answers with what it just wrote.
 */
@Injectable()
export class ModeChanges {
  private readonly logger = new Logger('ModeChanges');
  private readonly host = hostname();
  private writeLock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: ModeRepository,
    private readonly cache: ModeCache,
    private readonly ledger: LedgerRepository,
    private readonly mirror: LedgerMirror,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly signer: LedgerSigner,
  ) {}

  /** One change and its ledger entry, atomically; throws 409 on a stale expected version. */
  async change(req: ChangeRequest): Promise<ChangeResult | undefined> {
    return this.serialized(async () => {
      // a change towards shadow (rollback, auto-revert) is never held up by missing entries
      await this.mirror.restoreBeforeChange(req.intent.op === 'rollback' || req.intent.op === 'auto-revert');
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const nowMs = this.clock.nowMs();
        const nowSec = Math.floor(nowMs / 1000);
        const day = utcDay(nowMs);
        const snap = await this.repo.readForChange(day).catch((err: Error) => {
          throw redisUnavailable(err, false);
        });
        if (snap.unreadable && snap.ledgerIntact === false) {
          // the state would leave out entries that do not verify, and the change would chain onto them
          throw new ConflictError(
            `${snap.unreadable}; but the ledger does not verify, so no change is computed from it: nothing was changed; run GET /ops/ledger/verify`,
          );
        }
        const { state } = snap;
        if (req.expectedVersion !== undefined && state.version !== req.expectedVersion) {
          throw staleVersion(state.version, req.expectedVersion);
        }
        const plan = planChange(state, req.intent, nowSec);
        if (!plan) {
          return req.intent.op === 'rollback'
            ? {
                mode: state.mode,
                version: state.version,
                ...(state.operation_id ? { operation_id: state.operation_id } : {}),
                unchanged: true as const,
              }
            : undefined;
        }
        const seq = this.cache.nextSeq(day, snap.seq);
        const walk = plan.operation_name === 'rollback' ? RollbackTarget.from(state) : undefined;
        if (walk) {
          await this.ledger
            .findNewest((e) => walk.visit(e))
            .catch((err: Error) => {
              throw redisUnavailable(err, false);
            });
        }
        const rollbackOf = walk?.target;
        const entry = this.signer.seal({
          operation_id: formatOperationId(day, seq),
          operation_name: plan.operation_name,
          actor: req.actor,
          scope: plan.scope,
          from_mode: plan.from_mode,
          to_mode: plan.to_mode,
          reason: req.reason,
          risk_class: plan.risk_class,
          outcome: 'applied',
          ...(rollbackOf ? { rollback_of: rollbackOf } : {}),
          ...(typeof plan.expires_at === 'number' ? { expires_at: plan.expires_at } : {}),
          version: state.version + 1,
          git_commit: this.config.GIT_COMMIT,
          hostname: this.host,
          timestamp: nowSec,
          prev_hash: snap.head,
        });
        const res = await this.repo
          .change({
            expectedVersion: state.version,
            expectedHead: snap.head,
            seqKeyDay: day,
            seq,
            action: plan.action,
            mode: plan.mode,
            symbol: plan.symbol,
            overrideMode: plan.action === 'override-set' ? plan.to_mode : undefined,
            changedAt: nowSec,
            changedBy: req.actor,
            ...keyWrite(plan, snap.unreadable ? state : undefined),
            entry,
          })
          .catch((err: Error) => {
            throw redisUnavailable(err, true);
          });
        if (!res.ok) {
          if (res.conflict === 'TYPE' && res.found.startsWith('mode ')) {
            // the mode key turned unusable after the read: the next read takes its state from the ledger
            continue;
          }
          if (res.conflict === 'TYPE') {
            throw new ConflictError(
              `${Keys.modeOverrides} holds a ${res.found}, not a hash (written by another service?); nothing was changed; POST /ops/rollback deletes it`,
            );
          }
          if (res.conflict === 'STALE' && req.expectedVersion !== undefined) {
            throw staleVersion(Number(res.found), req.expectedVersion);
          }
          this.logger.debug({ msg: 'mode change raced another; retrying', conflict: res.conflict, attempt });
          continue;
        }
        this.metrics.modeChanges.inc({ to: plan.to_mode });
        this.cache.noteSeq(entry.operation_id);
        // the chain head, anchored outside Redis by log retention
        this.logger.log(chainHeadLine(entry));
        this.logger.log({
          msg: `${entry.operation_name} ${entry.scope}: ${entry.from_mode} -> ${entry.to_mode}`,
          operation_id: entry.operation_id,
          operation_name: entry.operation_name,
          actor: entry.actor,
          scope: entry.scope,
          from_mode: entry.from_mode,
          to_mode: entry.to_mode,
          version: entry.version,
          ...(plan.expires_at ? { expires_at: plan.expires_at } : {}),
          ...(rollbackOf ? { rollback_of: rollbackOf } : {}),
        });
        await this.mirror.recordWritten(entry);
        await this.cache.refresh().catch(() => undefined);
        if (!res.replicated) {
          this.logger.warn({
            msg: 'mode change not confirmed by replicas',
            operation_id: entry.operation_id,
          });
          throw new UnavailableError(
            `applied on the Redis master as ${entry.operation_id}, but fewer than REDIS_WAIT_REPLICAS replicas confirmed it within REDIS_WAIT_TIMEOUT_MS; check GET /ops/mode and GET /ops/ledger before retrying`,
            { outcome: 'unconfirmed', operation_id: entry.operation_id },
          );
        }
        const expiresAt = typeof plan.expires_at === 'number' ? plan.expires_at : undefined;
        return {
          mode: plan.symbol ? plan.to_mode : plan.mode,
          version: entry.version,
          operation_id: entry.operation_id,
          ...(expiresAt !== undefined && !plan.symbol ? { expires_at: expiresAt } : {}),
          ...(plan.symbol ? { symbol: plan.symbol } : {}),
          entry,
        };
      }
      throw new ConflictError('other changes kept landing first; re-read GET /ops/mode and retry');
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeLock.then(fn, fn);
    this.writeLock = run.catch(() => undefined);
    return run;
  }
}
