import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
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
import { BudgetService } from './budget.service.js';
import {
  BudgetListResponse,
  BudgetRecordResponse,
  SimulateBudgetResponse,
} from './dto/budget-responses.dto.js';
import { SymbolParamDto } from './dto/budget-check.dto.js';
import { SimulateBudgetDto } from './dto/simulate-budget.dto.js';

@ApiTags('budgets')
@Controller('budgets')
@RequireRole('viewer')
export class BudgetController {
  constructor(private readonly budgets: BudgetService) {}

  @Get()
  @ApiOperation({ summary: 'Current budget of every symbol', description: 'Role: viewer.' })
  @ApiOkResponse({ type: BudgetListResponse })
  list() {
    return this.budgets.list();
  }

  @Post('simulate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Stress and budget for given inputs; nothing is written',
    description: 'Role: viewer. Omitted stress components count as 0.',
  })
  @ApiBody({ type: SimulateBudgetDto })
  @ApiOkResponse({ type: SimulateBudgetResponse })
  @ApiBadRequestResponse({
    description: 'invalid input: `message` lists `field: rule`, `fields` names the fields',
  })
  @ApiPayloadTooLargeResponse({ description: `body over ${SMALL_BODY_LIMIT_BYTES} bytes` })
  simulate(@Body() dto: SimulateBudgetDto) {
    return this.budgets.simulate(dto);
  }

  @Get(':symbol')
  @ApiOperation({ summary: "One symbol's current budget", description: 'Role: viewer.' })
  @ApiOkResponse({ type: BudgetRecordResponse })
  @ApiBadRequestResponse({ description: 'the symbol breaks the symbol rule (`fields: ["symbol"]`)' })
  @ApiNotFoundResponse({ description: 'no budget hash for the symbol (not budgeted, or expired)' })
  get(@Param() params: SymbolParamDto) {
    return this.budgets.get(params.symbol);
  }
}
