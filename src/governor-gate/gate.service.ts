import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { HealthParts } from '../platform/observability/health-parts.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { failOpen, GateEvaluator, reduceOnlyBlock } from './gate-evaluator.js';
import { GateMetrics } from './gate-metrics.js';
import { REASON_REDIS_UNAVAILABLE, REASON_TIMEOUT } from '../core/reasons.js';
import { GATE_READ_TIMEOUT, GateRepository } from './gate.repository.js';
import type { GateDecision, GateVerdict, PlanInput, WouldBlock } from './gate.types.js';
import { logPath } from '../platform/logging/log-path.js';
import { LogRateLimiter } from '../platform/logging/log-rate-limiter.js';
import { ReadBreaker } from './read-breaker.js';
import { ShadowRepository } from './shadow.repository.js';
import { DecisionLog } from './decision-log.js';
import { decisionLine } from './decision-entry.js';
import type { GateSnapshot } from './gate.types.js';

/**
 * Gate 0: one bounded Redis read, the pure rules, metrics, and the shadow record. Never throws:
 * whatever goes wrong on the way is a fail-open ALLOW with a reason.
 */
@Injectable()
export class GateService implements OnModuleInit {
  private readonly logger = new Logger('Gate');
  private readonly evaluator: GateEvaluator;
  private readonly logLimiter = new LogRateLimiter(10_000, undefined, (kind) =>
    this.metrics.logSuppressed(kind),
  );
  private shadowRecordFailures = 0;
  /** A frozen Redis costs the first few plans GATE_TIMEOUT_MS each, not every plan. */
  private readonly breaker = new ReadBreaker<typeof REASON_TIMEOUT | typeof REASON_REDIS_UNAVAILABLE>(3, 250);

  constructor(
    private readonly repo: GateRepository,
    private readonly shadow: ShadowRepository,
    private readonly metrics: GateMetrics,
    private readonly modes: ModeReader,
    private readonly clock: Clock,
    private readonly parts: HealthParts,
    private readonly decisions: DecisionLog,
    config: AppConfig,
  ) {
    this.evaluator = new GateEvaluator({
      defaultMode: config.P28_MODE,
      fallbackMode: (symbol) => this.modes.effectiveMode(symbol),
      budgetMaxAgeSec: config.GATE_BUDGET_MAX_AGE_SEC,
      violationWindowSec: config.GATE_VIOLATION_WINDOW_SEC,
    });
  }

  onModuleInit() {
    this.parts.add('gate', () => ({
      // the gate fails open by design; a down connection is reported here and by the redis check
      ok: true,
      detail: { connection: this.repo.status, shadow_record_failures: this.shadowRecordFailures },
    }));
  }

  /** Failed writes of would-block records since start (they never affect a decision). */
  get shadowRecordFailureCount(): number {
    return this.shadowRecordFailures;
  }

  /**
   * `anonymous`: a caller without a token (GATE_AUTH=optional). It gets the decision alone, and
   * leaves no shadow record and no would-block count: an outsider must not shape what operators
   * read before enforcing. The plan consumer's decisions are authenticated.
   */
  async evaluate(plan: PlanInput, anonymous = false): Promise<GateDecision> {
    const started = performance.now();
    let verdict: GateVerdict;
    let budgeted: boolean | undefined;
    let snapshot: GateSnapshot | undefined;
    if (!this.repo.ready) {
      // no connection: answer now rather than wait for a read that cannot be sent
      verdict = this.unavailable(plan, REASON_REDIS_UNAVAILABLE);
    } else if (this.breaker.shouldSkip(started)) {
      verdict = this.unavailable(plan, this.breaker.lastReason ?? REASON_TIMEOUT);
    } else {
      try {
        snapshot = await this.repo.read(plan.symbol);
        if (this.breaker.success()) {
          this.metrics.breakerOpen(false);
          this.logger.log({ msg: 'gate read breaker closed: Redis answers again' });
        }
        verdict = this.evaluator.decide(plan, snapshot, this.clock.nowMs() / 1000);
        budgeted = snapshot.budgetUsd !== null || snapshot.budgetTimestamp !== null;
      } catch (err) {
        const reason = isTimeout(err) ? REASON_TIMEOUT : REASON_REDIS_UNAVAILABLE;
        if (this.breaker.failure(performance.now(), reason)) {
          this.metrics.breakerOpen(true);
          this.logger.warn({ msg: 'gate read breaker open: failing open without waiting on Redis', reason });
        }
        verdict = this.unavailable(plan, reason, err);
      }
    }
    const d = verdict.decision;
    this.metrics.record(plan.symbol, d, (performance.now() - started) / 1000, budgeted);
    if (d.decision === 'BLOCK') {
      this.logBlock(plan, d);
    } else if (d.fail_open !== undefined) {
      this.logFailOpen(plan, d, verdict.wouldBlock);
    }
    if (anonymous) return publicAnswer(d);
    // handed over, not awaited: the log never delays or fails the answer
    try {
      this.decisions.append(decisionLine(plan, d, snapshot, this.clock.nowMs(), verdict.position));
    } catch {
      this.metrics.decisionLogFailed();
    }
    if (verdict.wouldBlock) {
      this.metrics.wouldBlock(plan.symbol);
      // after the answer: the record must never delay or fail the decision
      setImmediate(() => this.recordWouldBlock(plan, verdict.wouldBlock as WouldBlock));
    }
    return d;
  }

  /** A caller the gate refused (bad token, wrong role): one line per interval, path only. */
  refused(problem: string, url: string | undefined): void {
    const held = this.logLimiter.take('gate_auth_refused');
    if (held === undefined) return;
    this.logger.warn({
      msg: 'gate refused a caller',
      problem,
      path: logPath(url),
      suppressed_since_last: held,
    });
  }

  /**
   * A block is the gate doing its job, not a fault: info, so warnings stay meaningful. Metrics and
   * the decision log count every one; the log line is one per interval, so callers set its volume.
   */
  private logBlock(plan: PlanInput, d: GateDecision) {
    const held = this.logLimiter.take('plan_blocked');
    if (held === undefined) return;
    this.logger.log({
      msg: 'plan blocked',
      plan_id: plan.plan_id,
      symbol: plan.symbol,
      reason: d.reason,
      mode: d.mode,
      budget_usd: d.budget_usd,
      position_notional: d.position_notional,
      suppressed_since_last: held,
    });
  }

  private unavailable(
    plan: PlanInput,
    reason: typeof REASON_TIMEOUT | typeof REASON_REDIS_UNAVAILABLE,
    err?: unknown,
  ): GateVerdict {
    // the mode as last seen by the mode reader: Redis is what we could not read. The kill switch
    // fails closed: without the position no plan can be seen lowering it, and the operator asked for it
    const mode = this.modes.effectiveMode(plan.symbol);
    const decision = mode === 'reduce_only' ? reduceOnlyBlock() : failOpen(reason, mode);
    if (err !== undefined && !isTimeout(err) && this.logLimiter.take('read_error') !== undefined) {
      this.logger.warn({
        msg: 'gate could not read or judge; failing open',
        error: (err as Error).message,
        symbol: plan.symbol,
      });
    }
    return { decision };
  }

  private logFailOpen(plan: PlanInput, d: GateDecision, w: WouldBlock | undefined) {
    const held = this.logLimiter.take(d.reason);
    if (held === undefined) return;
    this.logger.warn({
      msg: w ? 'shadow mode allowed a plan enforce would block' : 'gate failed open',
      reason: d.reason,
      plan_id: plan.plan_id,
      symbol: plan.symbol,
      mode: d.mode,
      would_block_reason: w?.reason,
      suppressed_since_last: held,
    });
  }

  private recordWouldBlock(plan: PlanInput, w: WouldBlock) {
    this.shadow.record(plan.symbol, plan.plan_id, w, this.clock.nowSec()).catch((err: unknown) => {
      this.shadowRecordFailures++;
      this.metrics.shadowRecordFailed();
      const held = this.logLimiter.take('shadow_record');
      if (held !== undefined) {
        this.logger.warn({
          msg: 'could not record a shadow would-block',
          error: (err as Error).message,
          plan_id: plan.plan_id,
          symbol: plan.symbol,
          failures_total: this.shadowRecordFailures,
          suppressed_since_last: held,
        });
      }
    });
  }
}

/** What a caller without a token learns (docs/contract.md §3 Gate 0): no budget, no position. */
function publicAnswer(d: GateDecision): GateDecision {
  return { decision: d.decision, reason: d.reason, mode: d.mode, enforced: d.enforced };
}

/** Our own bound, or ioredis's commandTimeout (same length) when its timer happened to fire first. */
const isTimeout = (err: unknown) =>
  err === GATE_READ_TIMEOUT || (err instanceof Error && err.message === 'Command timed out');
