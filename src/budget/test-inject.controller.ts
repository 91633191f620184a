import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { RequireRole } from '../ops/auth/roles.js';
import { BudgetService } from './budget.service.js';
import { InjectPortfolioStateDto } from './dto/inject-portfolio-state.dto.js';

/** Exists only with P28_TEST_MODE (TestModeMiddleware answers 404 otherwise, before auth). */
@Controller('test')
export class TestInjectController {
  constructor(private readonly budgets: BudgetService) {}

  @Post('inject_portfolio_state')
  @HttpCode(200)
  @RequireRole('operator')
  inject(@Query() query: InjectPortfolioStateDto, @Body() body: InjectPortfolioStateDto) {
    return this.budgets.injectPortfolioState(query, body);
  }
}
