import { Injectable } from '@nestjs/common';
import { AppConfig } from '../platform/config/index.js';
import type { RedisClient } from '../platform/redis/redis.factory.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { RedisSession } from '../platform/redis/batch.js';

/**
 * The budget engine's own connection, and round-trip-counting sessions on it.
 *
 * No per-command timeout on this connection: ioredis arms one timer per command, and a tick at
 * 10,000 symbols on a cluster sends ~50,000 commands (elsewhere its hash reads and writes go as a
 * few dozen scripts, see Batch); the timers alone tripled the tick's time. Each batch is
 * bounded by one timer of REDIS_COMMAND_TIMEOUT_MS instead, and a batch that times out resets the
 * connection, which fails whatever is still queued on it rather than letting it pile up behind a
 * stalled Redis. Being separate, the engine's big pipelines never queue in front of the gate.
 */
@Injectable()
export class BudgetRedis {
  private readonly client: RedisClient;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    this.client = redis.dedicated('budget', { commandTimeout: undefined });
  }

  session(): RedisSession {
    return new RedisSession(this.client, !this.redis.topology.crossSlotScripts, {
      timeoutMs: this.config.REDIS_COMMAND_TIMEOUT_MS,
      onTimeout: () => this.client.disconnect(true),
    });
  }
}
