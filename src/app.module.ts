import { Module } from '@nestjs/common';
import { BudgetModule } from './budget/budget.module.js';
import { CommonModule } from './platform/clock.module.js';
import { ConfigModule } from './platform/config/index.js';
import { GovernorGateModule } from './governor-gate/governor-gate.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './platform/observability/observability.module.js';
import { LoggingModule } from './platform/logging/logging.module.js';
import { OpsModule } from './ops/ops.module.js';
import { RedisModule } from './platform/redis/redis.module.js';

@Module({
  imports: [
    ConfigModule,
    CommonModule,
    MetricsModule,
    LoggingModule,
    RedisModule,
    OpsModule,
    HealthModule,
    BudgetModule,
    GovernorGateModule,
  ],
})
export class AppModule {}
