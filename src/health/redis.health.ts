import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisService } from '../platform/redis/redis.service.js';

export const REDIS_PING_TIMEOUT_MS = 1000;

/** Terminus has no Redis indicator: PING with a timeout, as twenty's RedisHealthIndicator does. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly redis: RedisService,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'redis') {
    const indicator = this.health.check(key);
    try {
      const ms = await this.redis.ping(REDIS_PING_TIMEOUT_MS);
      return indicator.up({ latency_ms: Math.round(ms * 100) / 100 });
    } catch {
      // an open probe: the state names the problem, the raw error text stays in the logs
      return indicator.down({ message: 'redis did not answer PING', state: this.redis.connectionState });
    }
  }
}
