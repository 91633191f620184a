import { MODES } from '../../core/mode.js';
import { Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  register as processRegistry,
  Registry,
} from 'prom-client';
import { TalliedCounter } from './tallied-counter.js';

let defaultsCollected = false;
/** Process metrics are per process, so they live once in prom-client's global registry. */
function ensureProcessMetrics() {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: processRegistry });
}

/**
 * Every metric of docs/contract.md, owned by one registry per app instance. prom-client's global
 * registry would refuse a second app in the same process (tests, two replicas in one run), so
 * only the process defaults go there and `/metrics` serves the two merged.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  // --- mode (§4) ---
  readonly enforceMode = this.gauge(
    'p28_enforce_mode',
    '1 when the global mode blocks (enforce or reduce_only), 0 in shadow',
  );
  readonly modeChanges = this.counter('p28_mode_changes_total', 'Mode changes applied, by target mode', [
    'to',
  ]);
  readonly ledgerMissingEntries = this.gauge(
    'p28_ledger_missing_entries',
    'Ledger entries present in the LEDGER_FILE mirror but missing from Redis',
  );

  readonly reduceOnlyMode = this.gauge(
    'p28_reduce_only_mode',
    '1 when the global mode is reduce_only (the kill switch: only plans that lower |position| pass)',
  );
  readonly modeOverrides = this.gauge('p28_mode_overrides', 'Per-symbol mode overrides in force, by mode', [
    'mode',
  ]);
  readonly policyVersion = this.gauge(
    'p28_policy_version',
    'Version of the risk policy this replica computes and gates with (docs/contract.md §7)',
  );
  readonly policyChanges = this.counter('p28_policy_changes_total', 'Risk policy changes applied', []);
  readonly decisionLogFail = this.counter(
    'p28_decision_log_fail_total',
    'Decisions that could not be appended to the decision log (never affecting the answer)',
  );
  readonly stateLost = this.counter(
    'p28_state_lost_total',
    'Shared mode state seen lost: the version went backwards or was re-seeded while this replica held state',
  );
  readonly ledgerRejected = this.counter(
    'p28_ledger_rejected_entries_total',
    'Ledger entries refused by verification (never adopted, restored or applied), by problem',
    ['problem'],
  );

  // --- logging and HTTP edge ---
  readonly logDropped = this.counter(
    'p28_log_dropped_total',
    'Log lines dropped because the log sink fell behind (the buffer is bounded)',
  );
  readonly logSuppressed = this.counter(
    'p28_log_suppressed_total',
    'Log lines folded into a rate-limited summary line, by kind',
    ['kind'],
  );

  // --- budget engine (§2) ---
  readonly budgetAllow = this.counter(
    'p28_budget_allow_total',
    'Budget checks found within budget (position notional <= budget)',
    ['symbol'],
  );
  readonly tickFailed = this.counter(
    'p28_budget_tick_failed_total',
    'Leader ticks that wrote no budget while symbols were budgeted',
  );
  readonly budgetValue = this.gauge('p28_budget_value_usd', 'Current notional budget per symbol (USD)', [
    'symbol',
  ]);
  readonly stressFactor = this.gauge('p28_stress_factor', 'Combined stress factor per symbol [0,1]', [
    'symbol',
  ]);
  readonly utilization = this.gauge('p28_budget_utilization_ratio', 'Position notional / budget', ['symbol']);
  readonly budgetComputed = this.counter('p28_budget_computed_total', 'Budgets computed', ['symbol']);
  readonly budgetBlocks = this.counter('p28_budget_blocks_total', 'Violations found by the engine', [
    'symbol',
  ]);
  readonly loopDuration = this.histogram(
    'p28_budget_loop_duration_seconds',
    'Budget tick duration',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  readonly loopLastSuccess = this.gauge(
    'p28_budget_loop_last_success_timestamp_seconds',
    'Epoch seconds of the last tick that wrote its outputs',
  );
  readonly tickOverrun = this.counter(
    'p28_budget_tick_overrun_total',
    'Ticks that took longer than the interval',
  );
  readonly redisWriteFail = this.counter(
    'p28_redis_write_fail_total',
    'Failed Redis writes of the budget engine',
  );
  readonly staleInput = this.counter('p28_stale_input_total', 'Inputs missing, stale or garbage', [
    'input_type',
  ]);
  readonly lkgUsed = this.counter(
    'p28_lkg_cache_used_total',
    'Ticks that used the last-known-good portfolio state',
  );
  readonly portfolioTooOld = this.counter(
    'p28_portfolio_too_old_total',
    'Ticks skipped: LKG state older than MAX_LKG_AGE_SEC',
  );
  readonly missingPortfolio = this.counter(
    'p28_missing_portfolio_state_total',
    'Ticks with no portfolio state and no cache',
  );
  readonly leader = this.gauge('p28_budget_leader', '1 on the replica holding the budget lease');
  readonly activeSymbols = this.gauge('p28_active_symbols', 'Active symbols seen by the last tick');

  // --- Gate 0 (§3) ---
  // counted per decision: tallied, and added to the counters when they are read
  readonly governBlock = this.tallied('quantum_govern_block_total', 'Plans blocked by Gate 0', [
    'symbol',
    'reason',
  ]);
  readonly governAllow = this.tallied('quantum_govern_allow_total', 'Plans allowed by Gate 0', ['symbol']);
  readonly gateDecisions = this.tallied('p28_gate_decisions_total', 'Gate 0 decisions', [
    'decision',
    'reason',
  ]);
  readonly gateFailOpen = this.tallied('p28_gate_fail_open_total', 'Gate 0 fail-open allows', ['reason']);
  readonly shadowWouldBlock = this.tallied(
    'p28_shadow_would_block_total',
    'Plans shadow mode would have blocked',
    ['symbol'],
  );
  readonly gateLatency = this.histogram(
    'p28_gate_latency_seconds',
    'Gate 0 decision latency',
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25],
  );
  readonly gateBreakerOpen = this.gauge(
    'p28_gate_breaker_open',
    '1 while the gate fails open without reading Redis (consecutive read failures)',
  );
  readonly shadowRecordFail = this.counter(
    'p28_shadow_record_fail_total',
    'Shadow would-block records that could not be written',
  );
  readonly plansConsumed = this.counter('p28_plans_consumed_total', 'Plans read from the apply.plan stream', [
    'outcome',
  ]);

  constructor() {
    ensureProcessMetrics();
    // labelled counters start at zero so the first event after a restart shows in rate()/increase()
    for (const to of MODES) this.modeChanges.labels(to).inc(0);
    for (const r of [
      'no_budget',
      'stale_budget',
      'redis_unavailable',
      'timeout',
      'shadow_mode',
      'no_price',
    ]) {
      this.gateFailOpen.counter.labels(r).inc(0);
    }
  }

  /** Text exposition of this app's metrics plus the process defaults. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processRegistry, this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  private gauge<L extends string = never>(name: string, help: string, labelNames: L[] = []) {
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }
  private counter<L extends string = never>(name: string, help: string, labelNames: L[] = []) {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }
  private tallied<L extends string>(name: string, help: string, labelNames: L[]) {
    return new TalliedCounter<L>(name, help, labelNames, this.registry);
  }
  private histogram(name: string, help: string, buckets: number[]) {
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }
}
