import { Module } from '@nestjs/common';
import { AuthModule } from '../platform/auth/auth.module.js';
import { ClockModule } from '../platform/clock/clock.module.js';
import { RedisModule } from '../platform/redis/redis.module.js';
import { OpenApiExtras } from '../platform/http/openapi-extras.js';
import { EvaluatePlanDto, GateDecisionResponse } from './dto/evaluate-plan.dto.js';
import { GateAuth } from './gate-auth.js';
import { GateMetrics } from './gate-metrics.js';
import { GateRepository } from './gate.repository.js';
import { GATE_EVALUATE_OPENAPI, GATE_EVALUATE_PATH, GateRoute } from './gate.route.js';
import { GateService } from './gate.service.js';
import { GovernorGateController } from './governor-gate.controller.js';
import { PlanConsumer } from './plan-consumer.js';
import { DecisionLog } from './decision-log.js';
import { DecisionLogReader } from './decision-log.reader.js';
import { PolicyReplay } from './policy-replay.js';
import { PlanOutcomeRepository } from './plan-outcome.repository.js';
import { ShadowReportService } from './shadow-report.service.js';
import { ShadowRepository } from './shadow.repository.js';

/** Gate 0 (docs/contract.md §3 Gate 0): the evaluate endpoint, the shadow report and the plan-stream consumer. */
@Module({
  imports: [AuthModule, ClockModule, RedisModule],
  controllers: [GovernorGateController],
  providers: [
    GateRepository,
    GateMetrics,
    GateAuth,
    GateService,
    GateRoute,
    ShadowRepository,
    ShadowReportService,
    PlanOutcomeRepository,
    PlanConsumer,
    DecisionLog,
    DecisionLogReader,
    PolicyReplay,
    {
      provide: OpenApiExtras,
      useValue: {
        paths: { [GATE_EVALUATE_PATH]: GATE_EVALUATE_OPENAPI },
        models: [EvaluatePlanDto, GateDecisionResponse],
      } satisfies OpenApiExtras,
    },
  ],
  exports: [GateService, PlanConsumer, DecisionLog, DecisionLogReader],
})
export class GovernorGateModule {}
