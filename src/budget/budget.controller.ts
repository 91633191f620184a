import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { RequireRole } from '../ops/auth/roles.js';
import { BudgetService } from './budget.service.js';
import { SimulateBudgetDto } from './dto/simulate-budget.dto.js';

@Controller('budgets')
@RequireRole('viewer')
export class BudgetController {
  constructor(private readonly budgets: BudgetService) {}

  @Get()
  list() {
    return this.budgets.list();
  }

  @Post('simulate')
  @HttpCode(200)
  simulate(@Body() dto: SimulateBudgetDto) {
    return this.budgets.simulate(dto);
  }

  @Get(':symbol')
  get(@Param('symbol') symbol: string) {
    return this.budgets.get(symbol);
  }
}
