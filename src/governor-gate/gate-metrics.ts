import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { Metrics } from '../platform/observability/metrics.js';
import type { GateDecision } from './gate.types.js';

/**
 * A `symbol` label is only a symbol the budget engine knows (docs/contract.md §3 Gate 0): one whose read found a
 * budget hash. Any other is counted here, so a caller inventing symbols creates no series and
 * crowds out none (there is no cap to fill).
 */
export const OTHER_SYMBOL = '_other';

type Child = Counter.Internal;

/**
 * Gate 0's metrics with their label children cached, so the allow path does no label hashing per
 * request (prom-client's `labels()` builds a key string on every call).
 */
@Injectable()
export class GateMetrics {
  private readonly allowBySymbol = new Map<string, Child>();
  private readonly wouldBlockBySymbol = new Map<string, Child>();
  private readonly decisions = new Map<string, Child>();
  private readonly failOpen = new Map<string, Child>();
  private readonly suppressed = new Map<string, Child>();
  /** Symbols whose latest read found a budget hash: bounded by what the engine budgets. */
  private readonly budgeted = new Set<string>();

  constructor(private readonly metrics: Metrics) {}

  breakerOpen(open: boolean): void {
    this.metrics.gateBreakerOpen.set(open ? 1 : 0);
  }

  /** A log line folded into a rate-limited summary (`kind`: a LogRateLimiter key, a fixed string). */
  logSuppressed(kind: string): void {
    child(this.suppressed, kind, () => this.metrics.logSuppressed.labels(kind)).inc();
  }

  decisionLogFailed(): void {
    this.metrics.decisionLogFail.inc();
  }

  shadowRecordFailed(): void {
    this.metrics.shadowRecordFail.inc();
  }

  /**
   * `budgeted`: whether this decision's read found a budget hash for the symbol; undefined when
   * nothing was read (Redis down, timeout), and the last read's answer stands.
   */
  record(symbol: string, d: GateDecision, seconds: number, budgeted: boolean | undefined): void {
    this.metrics.gateLatency.observe(seconds);
    if (budgeted === true) this.budgeted.add(symbol);
    else if (budgeted === false) this.budgeted.delete(symbol);
    const label = this.symbolLabel(symbol);
    if (d.decision === 'ALLOW') {
      child(this.allowBySymbol, label, () => this.metrics.governAllow.labels(label)).inc();
    } else {
      this.metrics.governBlock.inc({ symbol: label, reason: d.reason });
    }
    // a reason belongs to one decision only, so it alone keys the (decision, reason) child
    child(this.decisions, d.reason, () => this.metrics.gateDecisions.labels(d.decision, d.reason)).inc();
    if (d.fail_open !== undefined) {
      const reason = d.fail_open;
      child(this.failOpen, reason, () => this.metrics.gateFailOpen.labels(reason)).inc();
    }
  }

  wouldBlock(symbol: string): void {
    const label = this.symbolLabel(symbol);
    child(this.wouldBlockBySymbol, label, () => this.metrics.shadowWouldBlock.labels(label)).inc();
  }

  private symbolLabel(symbol: string): string {
    return this.budgeted.has(symbol) ? symbol : OTHER_SYMBOL;
  }
}

function child(cache: Map<string, Child>, key: string, make: () => Child): Child {
  let c = cache.get(key);
  if (!c) {
    c = make();
    cache.set(key, c);
  }
  return c;
}
