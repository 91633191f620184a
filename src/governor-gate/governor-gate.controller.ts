import { Body, Controller, Get, HttpCode, Post, Query, UseInterceptors } from '@nestjs/common';
import { JsonObjectBodyInterceptor } from '../platform/http/json-object-body.interceptor.js';
import { PolicyReplay } from './policy-replay.js';
import { ReplayDto } from './dto/replay.dto.js';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { RequireRole } from '../platform/auth/roles.js';
import {
  ShadowReportQuery,
  ShadowReportResponse,
  ShadowSymbolSummaryResponse,
} from './dto/shadow-report.query.js';
import { ShadowReportService } from './shadow-report.service.js';
import { DecisionsQuery } from './dto/decisions.query.js';
import { DecisionLogReader } from './decision-log.reader.js';

// Gate 0's reads. Its hot path, POST /governor/evaluate, is a Fastify route: see gate.route.ts.
// The shadow report is also listed with the other /ops reads.
const WALKS_BUSY = { description: 'two walks of the decision log (replays, lookups) are already running' };
@ApiTags('governor')
@Controller()
@ApiExtraModels(ShadowSymbolSummaryResponse)
export class GovernorGateController {
  constructor(
    private readonly shadowReport: ShadowReportService,
    private readonly decisions: DecisionLogReader,
    private readonly replayer: PolicyReplay,
  ) {}

  /** What a candidate policy would have decided over the logged decisions; writes nothing. */
  @Post('ops/policy/replay')
  @RequireRole('viewer')
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  @ApiTags('ops')
  @ApiOperation({
    summary: 'Replay logged decisions under a candidate risk policy',
    description:
      'Role: viewer. Re-judges every logged decision in the window as if the policy (a subset, merged ' +
      'with the one in force) had been in force and the mode were enforce; nothing is written.',
  })
  @ApiBadRequestResponse({ description: 'a parameter breaks a policy rule (named in `fields`)' })
  @ApiTooManyRequestsResponse(WALKS_BUSY)
  replay(@Body() body: ReplayDto) {
    return this.replayer.replay(body);
  }

  /** "Why was this plan blocked?": logged decisions, newest first (docs/contract.md §7). */
  @Get('governor/decisions')
  @RequireRole('viewer')
  @ApiOperation({
    summary: 'Logged Gate 0 decisions, newest first',
    description:
      'Role: viewer. `plan_id`, or `symbol`, `since` (epoch seconds) and `limit`: each decision with the inputs it used.',
  })
  @ApiBadRequestResponse({ description: 'a bad query parameter (named in `fields`)' })
  @ApiTooManyRequestsResponse(WALKS_BUSY)
  async list(@Query() q: DecisionsQuery) {
    const decisions = await this.decisions.find({
      plan_id: q.plan_id,
      symbol: q.symbol,
      sinceMs: q.since !== undefined ? Math.floor(q.since * 1000) : 0,
      limit: q.limit ?? 100,
    });
    return { count: decisions.length, decisions };
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
