import { Module } from '@nestjs/common';
import { BudgetModule } from './budget/budget.module.js';
import { ConfigModule } from './platform/config/index.js';
import { GovernorGateModule } from './governor-gate/governor-gate.module.js';
import { HealthModule } from './health/health.module.js';
import { ObservabilityModule } from './platform/observability/observability.module.js';
import { LoggingModule } from './platform/logging/logging.module.js';
import { OpsModule } from './ops/ops.module.js';
import { RedisModule } from './platform/redis/redis.module.js';

@Module({
  imports: [
    ConfigModule,
    ObservabilityModule,
    LoggingModule,
    RedisModule,
    OpsModule,
    // the mode port (ModeReader) is provided by ops and read by the engine, the gate and /health:
    // wired here so that no feature imports another
    { module: HealthModule, imports: [OpsModule] },
    { module: BudgetModule, imports: [OpsModule] },
    { module: GovernorGateModule, imports: [OpsModule] },
  ],
})
export class AppModule {}
