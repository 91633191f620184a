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
 * Gate 0's metrics. The per-decision counters are tallies (TalliedCounter), added to prom-client's
 * counters at scrape time; the other children are cached, so no label set is hashed per decision.
 */
@Injectable()
export class GateMetrics {
  private readonly suppressed = new Map<string, Child>();
  /** Symbols whose latest read found a budget hash: bounded by what the engine budgets. */
  private readonly budgeted = new Set<string>();

  constructor(private readonly metrics: Metrics) {}

  breakerOpen(open: boolean): void {
    this.metrics.gateBreakerOpen.set(open ? 1 : 0);
  }

  /** A log line folded into a rate-limited summary (`kind`: a LogRateLimiter key, a fixed string). */
  logSuppressed(kind: string): void {
    let c = this.suppressed.get(kind);
    if (!c) {
      c = this.metrics.logSuppressed.labels(kind);
      this.suppressed.set(kind, c);
    }
    c.inc();
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
    const m = this.metrics;
    m.gateLatency.observe(seconds);
    if (budgeted === true) this.budgeted.add(symbol);
    else if (budgeted === false) this.budgeted.delete(symbol);
    const symbolLabel = this.symbolLabel(symbol);
    if (d.decision === 'ALLOW') {
      m.governAllow.tally(symbolLabel, symbolLabel).n++;
    } else {
      m.governBlock.tally(`${symbolLabel}\u0000${d.reason}`, symbolLabel, d.reason).n++;
    }
    // a reason belongs to one decision only, so it alone keys the (decision, reason) set
    m.gateDecisions.tally(d.reason, d.decision, d.reason).n++;
    if (d.fail_open !== undefined) m.gateFailOpen.tally(d.fail_open, d.fail_open).n++;
  }

  wouldBlock(symbol: string): void {
    const symbolLabel = this.symbolLabel(symbol);
    this.metrics.shadowWouldBlock.tally(symbolLabel, symbolLabel).n++;
  }

  private symbolLabel(symbol: string): string {
    return this.budgeted.has(symbol) ? symbol : OTHER_SYMBOL;
  }
}
