import { Module } from '@nestjs/common';
import { ClockModule } from '../platform/clock/clock.module.js';
import { RedisModule } from '../platform/redis/redis.module.js';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { HealthController } from './health.controller.js';
import { LoopHealthIndicator } from './loop.health.js';
import { MetricsController } from './metrics.controller.js';
import { RedisHealthIndicator } from './redis.health.js';

@Module({
  imports: [
    ClockModule,
    RedisModule,
    TerminusModule.forRoot({ errorLogStyle: 'json' }),
    // defaults are collected by Metrics, once per process, so a second app in one process works
    PrometheusModule.register({ controller: MetricsController, defaultMetrics: { enabled: false } }),
  ],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, LoopHealthIndicator],
})
export class HealthModule {}
