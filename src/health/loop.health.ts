import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Clock } from '../platform/clock/clock.js';
import { LoopHeartbeat } from '../platform/observability/loop-heartbeat.js';

/**
 * Readiness of the budget loop (docs/contract.md §5): the loop ran within 3 intervals and the last
 * *successful* budget write is within 3 intervals, or GATE_BUDGET_MAX_AGE_SEC when shorter (an
 * older budget makes the gate fail open). On a follower the write is the leader's, read
 * from Redis, so a replica that does not compute is still ready while budgets are enforced.
 */
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
    const data = {
      last_run_age_ms: this.heartbeat.ageMs(now) ?? null,
      last_success_age_ms: this.heartbeat.successAgeMs(now) ?? null,
    };
    if (!this.heartbeat.isFresh(now))
      return indicator.down({ ...data, message: 'budget loop has not run within 3 intervals' });
    if (!this.heartbeat.isEnforcing(now))
      return indicator.down({ ...data, message: 'no successful budget write within the enforce window' });
    return indicator.up(data);
  }
}
