import { Injectable } from '@nestjs/common';
import { Clock } from '../platform/clock/clock.js';
import { summariseShadow, type ShadowReport } from './shadow-report.js';
import { ShadowRepository } from './shadow.repository.js';

const DAY_SEC = 86_400;

@Injectable()
export class ShadowReportService {
  constructor(
    private readonly shadow: ShadowRepository,
    private readonly clock: Clock,
  ) {}

  async report(since?: number): Promise<ShadowReport> {
    const now = this.clock.nowSec();
    const from = since ?? now - DAY_SEC;
    const { records, truncated } = await this.shadow.since(from);
    return summariseShadow(records, from, now, truncated);
  }
}
