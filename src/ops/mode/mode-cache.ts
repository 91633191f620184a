import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../../platform/clock/clock.js';
import { AppConfig, type Mode } from '../../platform/config/index.js';
import { enforces, globalModeAt, MODES } from '../../core/mode.js';
import { HealthParts } from '../../platform/observability/health-parts.js';
import { Metrics } from '../../platform/observability/metrics.js';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { SharedStateFollower } from '../../platform/redis/shared-state.js';
import { parseOperationId } from '../../core/ledger/ledger-entry.js';
import { LedgerMirror } from '../ledger/ledger-mirror.js';
import { ModeReader, type ModeView } from '../../platform/mode/mode-reader.js';
import type { ModeState } from './mode-change.js';
import { ModeRepository, type ModeSnapshot } from './mode.repository.js';

/** What this replica saw when the shared state went backwards (docs/contract.md §5 HTTP API: state lost). */
export interface StateLoss {
  /** the highest version this replica held before */
  held_version: number;
  /** the version Redis showed instead */
  found_version: number;
  /** epoch seconds */
  at: number;
}

const STARTUP_SYNC_MS = 2000;

/**
 * This replica's copy of the authoritative mode, which Redis holds (Keys.mode, Keys.modeOverrides).
 * It follows every change through pub/sub and re-reads every MODE_REFRESH_MS as a safety net.
 */
@Injectable()
export class ModeCache extends ModeReader implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ModeCache');
  private view: ModeView;
  private lastSyncMs?: number;
  private readonly follower: SharedStateFollower;
  private lastProblems = '';
  private bootChecked = false;
  private lost?: StateLoss;
  /** highest daily sequence seen per day: ids never restart at -001 after Redis lost its counter */
  private readonly seqSeen = new Map<string, number>();

  constructor(
    private readonly repo: ModeRepository,
    private readonly mirror: LedgerMirror,
    redis: RedisService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly health: HealthParts,
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

  /**
   * The sequence for the day's next operation id: one past the higher of Redis's counter and the
   * highest this replica has seen, so a counter Redis lost cannot hand out an id again.
   */
  nextSeq(day: string, redisSeq: number): number {
    return Math.max(redisSeq, this.seqSeen.get(day) ?? 0) + 1;
  }

  /** Remembers the sequence of an operation id this replica wrote or read. */
  noteSeq(operationId: string | undefined): void {
    const id = operationId ? parseOperationId(operationId) : undefined;
    if (id && id.seq > (this.seqSeen.get(id.day) ?? 0)) this.seqSeen.set(id.day, id.seq);
  }

  private async readAndApply() {
    let snap = await this.repo.read();
    if (snap.unreadable) return this.applyUnreadable(snap);
    if (!snap.state.stored) {
      // no mode in Redis (first boot, or Redis lost its data): P28_MODE seeds it, atomically
      if (await this.repo.seed(this.config.P28_MODE, this.clock.nowSec())) {
        this.logger.warn({ msg: 'no mode in Redis; seeded from P28_MODE', mode: this.config.P28_MODE });
      }
      snap = await this.repo.read();
      if (snap.unreadable) return this.applyUnreadable(snap);
    } else if (!this.bootChecked && snap.state.mode !== this.config.P28_MODE) {
      this.logger.warn({
        msg: `P28_MODE=${this.config.P28_MODE} differs from the mode stored in Redis (${snap.state.mode}): the stored mode wins; modes change through the admin API (PUT /ops/mode), not P28_MODE`,
        stored_mode: snap.state.mode,
        p28_mode: this.config.P28_MODE,
      });
    }
    this.bootChecked = true;
    this.checkLoss(snap.state);
    this.noteProblems(snap.problems);
    this.apply(snap.state);
    this.mirror.noticeHead(snap.head);
  }

  /**
   * An unusable mode key is not "no mode" (no seed over it): the mode the ledger implies decides,
   * the same on every replica, one starting now included. Without a ledger the last mode read stays.
   */
  private applyUnreadable(snap: ModeSnapshot) {
    this.noteProblems([snap.unreadable as string, ...snap.problems]);
    if (snap.state.stored) {
      this.checkLoss(snap.state);
      this.apply(snap.state);
    }
    this.mirror.noticeHead(snap.head);
  }

  /** Problems of the stored state: /health names them; a new set is logged once. */
  private noteProblems(list: readonly string[]) {
    const problems = list.join('; ');
    if (problems && problems !== this.lastProblems) {
      this.logger.warn({ msg: 'malformed mode state in Redis', problems: list });
    }
    this.lastProblems = problems;
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
