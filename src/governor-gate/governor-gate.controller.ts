import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../platform/auth/roles.js';
import {
  ShadowReportQuery,
  ShadowReportResponse,
  ShadowSymbolSummaryResponse,
} from './dto/shadow-report.query.js';
import { ShadowReportService } from './shadow-report.service.js';

// Gate 0's reads. Its hot path, POST /governor/evaluate, is a Fastify route: see gate.route.ts.
// The shadow report is also listed with the other /ops reads.
@ApiTags('governor')
@Controller()
@ApiExtraModels(ShadowSymbolSummaryResponse)
export class GovernorGateController {
  constructor(private readonly shadowReport: ShadowReportService) {}

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
