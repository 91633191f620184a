import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Metrics } from '../observability/metrics.js';
import { onLogLineDropped } from './log-destination.js';

/** Counts the lines the bounded log destination drops in p28_log_dropped_total. */
@Injectable()
export class LogDropMetrics implements OnModuleInit, OnModuleDestroy {
  private unsubscribe?: () => void;

  constructor(private readonly metrics: Metrics) {}

  onModuleInit(): void {
    this.unsubscribe = onLogLineDropped(() => this.metrics.logDropped.inc());
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }
}
