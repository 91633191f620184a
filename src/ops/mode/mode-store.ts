import { hostname } from 'node:os';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConflictError, UnavailableError } from '../../core/errors.js';
import { Clock } from '../../platform/clock/clock.js';
import { AppConfig, type Mode } from '../../platform/config/index.js';
import { enforces, globalModeAt, MODES } from '../../core/mode.js';
import { HealthParts } from '../../platform/observability/health-parts.js';
import { Metrics } from '../../platform/observability/metrics.js';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { SharedStateFollower } from '../../platform/redis/shared-state.js';
import {
  formatOperationId,
  parseOperationId,
  utcDay,
  type LedgerEntry,
} from '../../core/ledger/ledger-entry.js';
import { LedgerSigner } from '../ledger/ledger-signer.js';
import { LedgerMirror } from '../ledger/ledger-mirror.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { ModeReader, type ModeView } from '../../platform/mode/mode-reader.js';
import { planChange, RollbackTarget, type ChangeIntent, type ModeState } from './mode-change.js';
import { ModeRepository } from './mode.repository.js';
import { chainHeadLine } from '../ledger/ledger-head.js';

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

/** What this replica saw when the shared state went backwards (docs/contract.md §5 HTTP API: state lost). */
export interface StateLoss {
  /** the highest version this replica held before */
  held_version: number;
  /** the version Redis showed instead */
  found_version: number;
  /** epoch seconds */
  at: number;
}

/** Attempts when the chain head or the day's counter moved under a change that gave no version. */
const MAX_ATTEMPTS = 5;
const STARTUP_SYNC_MS = 2000;

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

function staleVersion(current: number, expected: number): ConflictError {
  return new ConflictError(
    `expected_version ${expected} is stale: the mode is at version ${current}; re-read GET /ops/mode and retry`,
    { current_version: current },
  );
}

/**
 * The authoritative mode: Redis holds it (Keys.mode, Keys.modeOverrides), this replica caches it.
 * The cache follows every change through pub/sub and re-reads every MODE_REFRESH_MS as a safety
 * net. `change()` is one atomic script that writes the state and its ledger entry together.
 */
@Injectable()
export class ModeStore extends ModeReader implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ModeStore');
  private readonly host = hostname();
  private view: ModeView;
  private lastSyncMs?: number;
  private readonly follower: SharedStateFollower;
  private lastProblems = '';
  private writeLock: Promise<unknown> = Promise.resolve();
  private bootChecked = false;
  private lost?: StateLoss;
  /** highest daily sequence seen per day: ids never restart at -001 after Redis lost its counter */
  private readonly seqSeen = new Map<string, number>();

  constructor(
    private readonly repo: ModeRepository,
    private readonly ledger: LedgerRepository,
    private readonly mirror: LedgerMirror,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly health: HealthParts,
    private readonly signer: LedgerSigner,
  ) {
    super();
    this.view = { mode: config.P28_MODE, version: 0, overrides: new Map() };
    this.follower = new SharedStateFollower(redis, {
      name: 'mode',
      channel: Keys.modeChannel,
      refreshMs: config.MODE_REFRESH_MS,
      startupWaitMs: STARTUP_SYNC_MS,
      read: () => this.readAndApply(),
      logger: this.logger,
    });
  }

  protected nowSec(): number {
    return this.clock.nowSec();
  }

  /** Set while the shared state was seen lost and no change has acknowledged it since. */
  get stateLoss(): StateLoss | undefined {
    return this.lost;
  }

  async onModuleInit() {
    this.setModeGauges(this.view);
    this.health.add('mode_sync', () => ({
      ok: true,
      detail: {
        subscribed: this.follower.subscribed,
        last_sync_age_ms:
          this.lastSyncMs === undefined ? null : Math.max(0, Math.round(performance.now() - this.lastSyncMs)),
        ...(this.lost ? { state_lost: this.lost } : {}),
      },
      ...(this.lost || this.lastProblems
        ? {
            degraded: [
              ...(this.lost
                ? [
                    `shared mode state lost (version ${this.lost.held_version} -> ${this.lost.found_version}); acknowledge with a new PUT /ops/mode after checking GET /ops/ledger`,
                  ]
                : []),
              ...(this.lastProblems ? [`malformed mode state in Redis: ${this.lastProblems}`] : []),
            ].join('; '),
          }
        : {}),
    }));
    // P28_MODE serves until the first read
    await this.follower.start((err) =>
      this.logger.warn({
        msg: 'initial mode read failed; using P28_MODE until Redis answers',
        error: err.message,
      }),
    );
  }

  onApplicationShutdown() {
    this.follower.stop();
  }

  current(): ModeView {
    return this.view;
  }

  /** Re-reads the mode from Redis (one round trip) and applies it; see SharedStateFollower. */
  refresh(): Promise<void> {
    return this.follower.refresh();
  }

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
        const seq = Math.max(snap.seq, this.seqSeen.get(day) ?? 0) + 1;
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
            expiresAt: plan.expires_at,
            ...(plan.revert_to !== undefined ? { revertTo: plan.revert_to } : {}),
            entry,
          })
          .catch((err: Error) => {
            throw redisUnavailable(err, true);
          });
        if (!res.ok) {
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
        this.noteSeq(entry.operation_id);
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
        await this.refresh().catch(() => undefined);
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

  private noteSeq(operationId: string | undefined) {
    const id = operationId ? parseOperationId(operationId) : undefined;
    if (id && id.seq > (this.seqSeen.get(id.day) ?? 0)) this.seqSeen.set(id.day, id.seq);
  }

  private async readAndApply() {
    let snap = await this.repo.read();
    if (!snap.state.stored) {
      // no mode in Redis (first boot, or Redis lost its data): P28_MODE seeds it, atomically
      if (await this.repo.seed(this.config.P28_MODE, this.clock.nowSec())) {
        this.logger.warn({ msg: 'no mode in Redis; seeded from P28_MODE', mode: this.config.P28_MODE });
      }
      snap = await this.repo.read();
    } else if (!this.bootChecked && snap.state.mode !== this.config.P28_MODE) {
      this.logger.warn({
        msg: `P28_MODE=${this.config.P28_MODE} differs from the mode stored in Redis (${snap.state.mode}): the stored mode wins; modes change through the admin API (PUT /ops/mode), not P28_MODE`,
        stored_mode: snap.state.mode,
        p28_mode: this.config.P28_MODE,
      });
    }
    this.bootChecked = true;
    this.checkLoss(snap.state);
    const problems = snap.problems.join('; ');
    if (problems && problems !== this.lastProblems) {
      this.logger.warn({ msg: 'malformed mode state in Redis', problems: snap.problems });
    }
    this.lastProblems = problems;
    this.apply(snap.state);
    this.mirror.noticeHead(snap.head);
  }

  /**
   * The version only grows, so a lower one means Redis lost the shared state (a restart without
   * persistence, a flush) and it was re-seeded or rebuilt. Any later version rise (a change or a
   * restore) acknowledges it.
   */
  private checkLoss(state: ModeState) {
    const held = this.view.version;
    if (this.lost && state.version > this.lost.found_version) {
      this.logger.warn({ msg: 'shared mode state loss acknowledged', version: state.version });
      this.lost = undefined;
    } else if (state.version < held) {
      this.lost = { held_version: held, found_version: state.version, at: this.clock.nowSec() };
      this.metrics.stateLost.inc();
      this.logger.error({
        msg: `shared mode state lost: the version went from ${held} back to ${state.version}; enforce and overrides held before may be gone`,
        held_mode: this.view.mode,
        held_version: held,
        held_overrides: this.view.overrides.size,
        found_mode: state.mode,
        found_version: state.version,
        action: 'check GET /ops/ledger and the LEDGER_FILE mirror, then acknowledge with a new PUT /ops/mode',
      });
    }
  }

  private apply(state: ModeState) {
    this.noteSeq(state.operation_id);
    const prev = this.view;
    this.view = {
      mode: state.mode,
      version: state.version,
      ...(state.changed_at !== undefined ? { changed_at: state.changed_at } : {}),
      ...(state.changed_by !== undefined ? { changed_by: state.changed_by } : {}),
      ...(state.expires_at !== undefined ? { expires_at: state.expires_at } : {}),
      ...(state.revert_to !== undefined ? { revert_to: state.revert_to } : {}),
      ...(state.operation_id !== undefined ? { operation_id: state.operation_id } : {}),
      overrides: state.overrides,
    };
    this.lastSyncMs = performance.now();
    this.setModeGauges(this.view);
    if (prev.mode !== state.mode || prev.version !== state.version) {
      this.logger.log({
        msg: `mode is ${state.mode} (version ${state.version})`,
        mode: state.mode,
        version: state.version,
        overrides: state.overrides.size,
      });
    }
  }

  /** p28_enforce_mode, p28_reduce_only_mode and p28_mode_overrides{mode} from the cached view. */
  private setModeGauges(v: ModeView) {
    const mode = this.effectiveGlobal(v);
    this.metrics.enforceMode.set(enforces(mode) ? 1 : 0);
    this.metrics.reduceOnlyMode.set(mode === 'reduce_only' ? 1 : 0);
    const counts = new Map<Mode, number>(MODES.map((m) => [m, 0]));
    for (const m of v.overrides.values()) counts.set(m, (counts.get(m) ?? 0) + 1);
    for (const [m, n] of counts) this.metrics.modeOverrides.set({ mode: m }, n);
  }

  private effectiveGlobal(v: ModeView): Mode {
    return globalModeAt(v, this.clock.nowSec());
  }
}
