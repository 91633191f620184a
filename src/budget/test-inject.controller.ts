import { Body, Controller, HttpCode, Post, Query, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { SMALL_BODY_LIMIT_BYTES } from '../platform/http/body-limits.js';
import { RequireRole } from '../platform/auth/roles.js';
import { BudgetService, INJECTED_STATE_TTL_SEC } from './budget.service.js';
import { InjectPortfolioStateResponse } from './dto/budget-responses.dto.js';
import { InjectPortfolioStateDto } from './dto/inject-portfolio-state.dto.js';
import { TestModeGuard } from './test-mode.guard.js';

/** Exists only with P28_TEST_MODE (TestModeGuard answers 404 otherwise; a controller guard runs before auth). */
@ApiTags('test')
@Controller('test')
@UseGuards(TestModeGuard)
export class TestInjectController {
  constructor(private readonly budgets: BudgetService) {}

  @Post('inject_portfolio_state')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Write a portfolio state (test mode only)',
    description:
      `Role: operator. Only with P28_TEST_MODE=1, else 404 before auth. Writes quantum:state:portfolio ` +
      `with TTL ${INJECTED_STATE_TTL_SEC} s from the query string or the JSON body (the body wins); ` +
      'equity_usd is required from one of them.',
  })
  @ApiBody({ type: InjectPortfolioStateDto, required: false })
  @ApiOkResponse({ type: InjectPortfolioStateResponse })
  @ApiBadRequestResponse({
    description: 'equity_usd missing or invalid, or drawdown invalid (named in `fields`)',
  })
  @ApiNotFoundResponse({ description: 'P28_TEST_MODE is off: the route does not exist' })
  @ApiPayloadTooLargeResponse({ description: `body over ${SMALL_BODY_LIMIT_BYTES} bytes` })
  inject(@Query() query: InjectPortfolioStateDto, @Body() body: InjectPortfolioStateDto) {
    return this.budgets.injectPortfolioState(query, body);
  }
}
