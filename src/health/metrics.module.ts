import { Global, Module } from '@nestjs/common';
import { HealthParts } from './health-parts.js';
import { LoopHeartbeat } from './loop-heartbeat.js';
import { Metrics } from './metrics.js';

/** Shared by every feature module: the metrics, the loop heartbeat and the /health parts. */
@Global()
@Module({
  providers: [Metrics, LoopHeartbeat, HealthParts],
  exports: [Metrics, LoopHeartbeat, HealthParts],
})
export class MetricsModule {}
