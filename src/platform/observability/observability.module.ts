import { Global, Module } from '@nestjs/common';
import { HealthParts } from './health-parts.js';
import { KnownSymbols } from './known-symbols.js';
import { LoopHeartbeat } from './loop-heartbeat.js';
import { Metrics } from './metrics.js';

/** Shared by every feature module: the metrics, the loop heartbeat, the /health parts and the known symbols. */
@Global()
@Module({
  providers: [Metrics, LoopHeartbeat, HealthParts, KnownSymbols],
  exports: [Metrics, LoopHeartbeat, HealthParts, KnownSymbols],
})
export class ObservabilityModule {}
