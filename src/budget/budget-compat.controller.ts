import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { RequireRole } from '../platform/auth/roles.js';
import { BudgetService } from './budget.service.js';
import { BudgetCheckQueryDto, BudgetCheckResponse, SymbolParamDto } from './dto/budget-check.dto.js';
import { BudgetRecordResponse } from './dto/budget-responses.dto.js';

/** The original service's routes (docs/contract.md §5 HTTP API), for callers that still use them. */
@ApiTags('budgets')
@Controller('budget')
@RequireRole('viewer')
export class BudgetCompatController {
  constructor(private readonly budgets: BudgetService) {}

  @Post('check')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Is a position notional within the budget? (compatibility)',
    description:
      'Role: viewer. Query string `symbol`, `position_notional`. Without a budget for the symbol: ' +
      '`{violation: false, reason: "no_budget_data_fail_open"}`.',
  })
  @ApiOkResponse({ type: BudgetCheckResponse })
  @ApiBadRequestResponse({ description: '`fields` names the bad query parameter' })
  check(@Query() query: BudgetCheckQueryDto) {
    return this.budgets.check(query.symbol, Number(query.position_notional));
  }

  @Get(':symbol')
  @ApiOperation({
    summary: "One symbol's budget hash with numbers (compatibility)",
    description: 'Role: viewer.',
  })
  @ApiOkResponse({ type: BudgetRecordResponse })
  @ApiBadRequestResponse({ description: 'the symbol breaks the symbol rule' })
  @ApiNotFoundResponse({ description: 'no budget hash for the symbol' })
  get(@Param() params: SymbolParamDto) {
    return this.budgets.get(params.symbol);
  }
}
