import { settledWithin, STOP_WAIT_MS } from '../platform/clock/bounded.js';
import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { HealthParts } from '../platform/observability/health-parts.js';
import { LoopHeartbeat } from '../platform/observability/loop-heartbeat.js';
import { Metrics } from '../platform/observability/metrics.js';
import { LeaderService } from '../platform/redis/leader.service.js';
import { BudgetEngine, type TickResult } from './budget.engine.js';
import { BudgetStatusRepository } from './budget-status.repository.js';

const BUDGET_TIMEOUT_NAME = 'p28-budget-tick';
/** How long shutdown waits for a tick in flight before letting Redis close under it. */
/** At startup the lease request is usually still in flight: wait this long for it before the first tick. */
const FIRST_TICK_LEADER_WAIT_MS = 1000;

export type RunResult = { led: true; result: TickResult } | { led: false };

/**
 * The budget loop: one tick every BUDGET_COMPUTE_INTERVAL_SEC, re-armed only after the previous
 * tick ended (a one-shot timeout, never an interval), so ticks cannot overlap. Every replica
 * ticks; only the lease holder computes. Every tick beats the heartbeat, so readiness can tell a
 * dead loop from a follower; a follower takes the leader's last successful write from Redis, so it
 * is ready exactly while budgets are being written.
 */
@Injectable()
export class BudgetScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('BudgetScheduler');
  private stopped = false;
  private inFlight?: Promise<RunResult>;
  private ticks = 0;
  /** The last refusal of the leader's status that was logged, so a bad status warns once. */
  private refusedStatus?: string;

  constructor(
    private readonly engine: BudgetEngine,
    private readonly leader: LeaderService,
    private readonly heartbeat: LoopHeartbeat,
    private readonly registry: SchedulerRegistry,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly status: BudgetStatusRepository,
    private readonly config: AppConfig,
    parts: HealthParts,
  ) {
    parts.add('budget_engine', () => {
      const last = this.engine.lastResult;
      const now = this.clock.nowMs();
      const successAge = this.heartbeat.successAgeMs(now);
      // only once a tick has run: before that, readiness alone says "not yet"
      const lapsed = this.heartbeat.lastBeatMs !== undefined && !this.heartbeat.isEnforcing(now);
      return {
        ok: true, // Redis being down is its own failing part; a lapse degrades, it does not fail
        ...(lapsed
          ? {
              degraded:
                'no successful budget write within ' +
                `${Math.round((this.heartbeat.enforceWindowMs ?? 0) / 1000)} s while symbols are budgeted` +
                (successAge === undefined ? ' (none yet)' : ` (last ${Math.round(successAge / 1000)} s ago)`),
            }
          : {}),
        detail: {
          leader: this.leader.isLeader(),
          ticks: this.ticks,
          last_outcome: last?.outcome ?? null,
          last_portfolio: last?.portfolio ?? null,
          active_symbols: last?.symbols.length ?? null,
        },
      };
    });
  }

  get intervalMs(): number {
    return this.engine.intervalMs;
  }

  onApplicationBootstrap() {
    // a budget older than the gate's max age enforces nothing, however recent the interval says
    this.heartbeat.register(this.intervalMs, this.config.GATE_BUDGET_MAX_AGE_SEC * 1000);
    this.logger.log({ msg: 'budget loop started', interval_ms: this.intervalMs });
    if (3 * this.config.BUDGET_COMPUTE_INTERVAL_SEC > this.config.GATE_BUDGET_MAX_AGE_SEC)
      this.logger.warn({
        msg: 'the gate calls a budget stale before 3 intervals pass: health judges writes by GATE_BUDGET_MAX_AGE_SEC',
        BUDGET_COMPUTE_INTERVAL_SEC: this.config.BUDGET_COMPUTE_INTERVAL_SEC,
        GATE_BUDGET_MAX_AGE_SEC: this.config.GATE_BUDGET_MAX_AGE_SEC,
      });
    // started here rather than on a timer, so settled() covers it as soon as the app is up
    void this.fire(true);
  }

  /** Resolves when the tick in flight (if any) has ended. */
  async settled(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  /** One scheduled tick: compute if leading, beat, account for overruns. Never throws. */
  runOnce(): Promise<RunResult> {
    return this.enqueue(false);
  }

  private enqueue(first: boolean): Promise<RunResult> {
    const prev = this.inFlight;
    const run = prev ? prev.then(() => this.runGuarded(first)) : this.runGuarded(first);
    this.inFlight = run;
    void run.finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    return run;
  }

  private async runGuarded(first: boolean): Promise<RunResult> {
    // the startup wait for the lease is not tick time: it must not count as an overrun
    if (first && !this.leader.isLeader()) await this.awaitLeadership(FIRST_TICK_LEADER_WAIT_MS);
    const started = performance.now();
    this.ticks += 1;
    try {
      // renew right before computing, so the lease outlives the tick; only when already leading:
      // an acquire racing LeaderService's own cycle could make it drop a lease it just won
      if (this.leader.isLeader()) await this.leader.refresh();
      if (!this.leader.isLeader()) {
        this.heartbeat.role(false);
        await this.followLeader();
        return { led: false };
      }
      this.heartbeat.role(true);
      const result = await this.engine.tick();
      if (result.success) this.heartbeat.success(this.clock.nowMs());
      return { led: true, result };
    } catch (err) {
      this.logger.error({ msg: 'budget tick threw', error: (err as Error).message });
      return { led: false };
    } finally {
      this.heartbeat.beat(this.clock.nowMs());
      const elapsedMs = performance.now() - started;
      if (elapsedMs > this.intervalMs) {
        this.metrics.tickOverrun.inc();
        this.logger.warn({
          msg: 'budget tick took longer than the interval',
          duration_ms: Math.round(elapsedMs),
          interval_ms: this.intervalMs,
        });
      }
    }
  }

  /** A follower computes nothing: its readiness follows the leader's last successful write. */
  private async followLeader(): Promise<void> {
    try {
      const status = await this.status.read(this.clock.nowMs());
      if (status.ok) {
        this.heartbeat.leaderSuccess(status.lastSuccessMs);
        this.refusedStatus = undefined;
      } else if (status.why !== 'absent' && status.why !== this.refusedStatus) {
        this.refusedStatus = status.why;
        this.logger.warn({
          msg: 'budget status refused: not counted as a successful write',
          why: status.why,
        });
      }
    } catch (err) {
      this.logger.debug({ msg: 'budget status not read', error: (err as Error).message });
    }
  }

  private awaitLeadership(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const off = this.leader.onChange((leading) => leading && done());
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  private arm(delayMs: number) {
    if (this.stopped) return;
    const handle = setTimeout(() => void this.fire(false), delayMs);
    this.registry.addTimeout(BUDGET_TIMEOUT_NAME, handle);
  }

  private async fire(first: boolean) {
    if (this.registry.doesExist('timeout', BUDGET_TIMEOUT_NAME))
      this.registry.deleteTimeout(BUDGET_TIMEOUT_NAME);
    if (this.stopped) return;
    const started = performance.now();
    await this.enqueue(first);
    // keep the cadence: the next tick starts one interval after this one started, or at once
    this.arm(Math.max(0, this.intervalMs - (performance.now() - started)));
  }

  async beforeApplicationShutdown() {
    this.stopped = true;
    if (this.registry.doesExist('timeout', BUDGET_TIMEOUT_NAME))
      this.registry.deleteTimeout(BUDGET_TIMEOUT_NAME);
    const running = this.inFlight;
    if (!running) return;
    const gaveUp = !(await settledWithin(running, STOP_WAIT_MS));
    if (gaveUp)
      this.logger.warn({
        msg: 'shutdown: budget tick still running, not waiting longer',
        waited_ms: STOP_WAIT_MS,
      });
  }
}
