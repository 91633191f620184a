import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Clock } from '../common/clock.js';
import { LoopHeartbeat } from './loop-heartbeat.js';

@Injectable()
export class LoopHealthIndicator {
  constructor(
    private readonly heartbeat: LoopHeartbeat,
    private readonly clock: Clock,
    private readonly health: HealthIndicatorService,
  ) {}

  isHealthy(key = 'budget_loop') {
    const indicator = this.health.check(key);
    const now = this.clock.nowMs();
    const age = this.heartbeat.ageMs(now);
    const data = { last_run_age_ms: age ?? null };
    return this.heartbeat.isFresh(now)
      ? indicator.up(data)
      : indicator.down({ ...data, message: 'budget loop has not run within 3 intervals' });
  }
}
