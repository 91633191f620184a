import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { Metrics } from '../health/metrics.js';
import type { GateDecision } from './gate.types.js';

/**
 * Past this many distinct symbols, per-symbol series are recorded under `_other`: the evaluate
 * endpoint is unauthenticated, and a caller inventing symbols must not grow the registry unbounded.
 */
export const MAX_SYMBOL_LABELS = 1000;
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
  private readonly symbols = new Set<string>();

  constructor(private readonly metrics: Metrics) {}

  breakerOpen(open: boolean): void {
    this.metrics.gateBreakerOpen.set(open ? 1 : 0);
  }

  shadowRecordFailed(): void {
    this.metrics.shadowRecordFail.inc();
  }

  record(symbol: string, d: GateDecision, seconds: number): void {
    this.metrics.gateLatency.observe(seconds);
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
    if (this.symbols.has(symbol)) return symbol;
    if (this.symbols.size >= MAX_SYMBOL_LABELS) return OTHER_SYMBOL;
    this.symbols.add(symbol);
    return symbol;
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
