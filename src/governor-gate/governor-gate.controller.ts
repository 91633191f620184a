import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { BODY_LIMIT_BYTES } from '../app.setup.js';
import { RequireRole } from '../ops/auth/roles.js';
import { EvaluatePlanDto, GateDecisionResponse } from './dto/evaluate-plan.dto.js';
import { EvaluatePlanPipe } from './dto/evaluate-plan.pipe.js';
import {
  ShadowReportQuery,
  ShadowReportResponse,
  ShadowSymbolSummaryResponse,
} from './dto/shadow-report.query.js';
import { GateService } from './gate.service.js';
import type { PlanInput } from './gate.types.js';
import { ShadowReportService } from './shadow-report.service.js';

// every handler is about Gate 0; the shadow report is also listed with the other /ops reads
@ApiTags('governor')
@Controller()
@ApiExtraModels(ShadowSymbolSummaryResponse)
export class GovernorGateController {
  constructor(
    private readonly gate: GateService,
    private readonly shadowReport: ShadowReportService,
  ) {}

  /**
   * Gate 0 decision. Open: the governor service calls it. 200 for ALLOW and BLOCK alike. The body
   * is checked by EvaluatePlanPipe (the rules of EvaluatePlanDto, without class-validator's cost);
   * typed as an interface so the global ValidationPipe leaves it to that pipe. @ApiBody documents
   * the DTO those rules come from; it is metadata only and adds nothing to the request path.
   */
  @Post('governor/evaluate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Gate 0 decision for a plan',
    description:
      'Open (no token): the governor service calls it. 200 for ALLOW and BLOCK alike. BLOCK only in ' +
      'enforce mode with a fresh budget, for a plan that does not reduce risk, when the symbol had a ' +
      'recent violation or the projected notional exceeds the budget. Missing or stale budget, Redis ' +
      'errors, timeouts and shadow mode are fail-open ALLOWs naming `fail_open`.',
  })
  @ApiBody({ type: EvaluatePlanDto })
  @ApiOkResponse({ type: GateDecisionResponse })
  @ApiBadRequestResponse({
    description: 'invalid plan: `message` lists `field: rule`, `fields` names the fields',
  })
  @ApiPayloadTooLargeResponse({ description: `body over ${BODY_LIMIT_BYTES} bytes` })
  evaluate(@Body(EvaluatePlanPipe) plan: PlanInput) {
    return this.gate.evaluate(plan);
  }

  @Get('ops/shadow-report')
  @RequireRole('viewer')
  @ApiTags('ops')
  @ApiOperation({
    summary: 'Would-block report of shadow mode, per symbol',
    description: 'Role: viewer. What enforce would have blocked since `since`: read it before enforcing.',
  })
  @ApiOkResponse({ type: ShadowReportResponse })
  @ApiBadRequestResponse({ description: '`since` is not epoch seconds' })
  report(@Query() q: ShadowReportQuery) {
    return this.shadowReport.report(q.since);
  }
}
