import { Module } from '@nestjs/common';
import { AuthModule } from '../platform/auth/auth.module.js';
import { ClockModule } from '../platform/clock/clock.module.js';
import { RedisModule } from '../platform/redis/redis.module.js';
import { ScheduleModule } from '@nestjs/schedule';
import { BudgetCompatController } from './budget-compat.controller.js';
import { BudgetController } from './budget.controller.js';
import { BudgetEngine } from './budget.engine.js';
import { BudgetRedis } from './budget-redis.js';
import { BudgetStatusRepository } from './budget-status.repository.js';
import { BudgetRepository } from './budget.repository.js';
import { BudgetScheduler } from './budget.scheduler.js';
import { BudgetService } from './budget.service.js';
import { ClusterStressReader } from './inputs/cluster-stress.reader.js';
import { HeatReader } from './inputs/heat.reader.js';
import { PortfolioStateReader } from './inputs/portfolio-state.reader.js';
import { PositionReader } from './inputs/position.reader.js';
import { UniverseReader } from './inputs/universe.reader.js';
import { VolatilityReader } from './inputs/volatility.reader.js';
import { TestInjectController } from './test-inject.controller.js';
import { TickReader } from './tick-inputs.js';

/** The P2.8 budget engine (docs/contract.md §1–2 Inputs, Budget engine). */
@Module({
  imports: [AuthModule, ClockModule, RedisModule, ScheduleModule.forRoot()],
  controllers: [BudgetController, BudgetCompatController, TestInjectController],
  providers: [
    BudgetRedis,
    BudgetRepository,
    BudgetStatusRepository,
    PortfolioStateReader,
    PositionReader,
    HeatReader,
    ClusterStressReader,
    VolatilityReader,
    UniverseReader,
    TickReader,
    BudgetEngine,
    BudgetScheduler,
    BudgetService,
  ],
  exports: [BudgetEngine, BudgetScheduler],
})
export class BudgetModule {}
