import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { RequireRole } from '../ops/auth/roles.js';
import { EvaluatePlanPipe } from './dto/evaluate-plan.pipe.js';
import { ShadowReportQuery } from './dto/shadow-report.query.js';
import { GateService } from './gate.service.js';
import type { PlanInput } from './gate.types.js';
import { ShadowReportService } from './shadow-report.service.js';

@Controller()
export class GovernorGateController {
  constructor(
    private readonly gate: GateService,
    private readonly shadowReport: ShadowReportService,
  ) {}

  /**
   * Gate 0 decision. Open: the governor service calls it. 200 for ALLOW and BLOCK alike. The body
   * is checked by EvaluatePlanPipe (the rules of EvaluatePlanDto, without class-validator's cost);
   * typed as an interface so the global ValidationPipe leaves it to that pipe.
   */
  @Post('governor/evaluate')
  @HttpCode(200)
  evaluate(@Body(EvaluatePlanPipe) plan: PlanInput) {
    return this.gate.evaluate(plan);
  }

  @Get('ops/shadow-report')
  @RequireRole('viewer')
  report(@Query() q: ShadowReportQuery) {
    return this.shadowReport.report(q.since);
  }
}
