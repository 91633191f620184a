import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';
import { MODES, type Mode } from '../../platform/config/index.js';

/**
 * A plain decimal, as the original service's callers send it: no sign, exponent, hex or
 * Infinity; at most 16 integer digits, so the number is exact enough to compare with a budget.
 */
const NOTIONAL_PATTERN = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,8})?$/;

/** `:symbol` of the budget routes: the symbol rule, so nothing else reaches Redis or a message. */
export class SymbolParamDto {
  @ApiProperty({ type: String, pattern: SYMBOL_PATTERN.source, example: 'BTCUSDT' })
  @IsString()
  @Matches(SYMBOL_PATTERN, { message: SYMBOL_RULE })
  symbol!: string;
}

/** POST /budget/check?symbol=&position_notional= (the original service's query string). */
export class BudgetCheckQueryDto extends SymbolParamDto {
  @ApiProperty({ type: String, pattern: NOTIONAL_PATTERN.source, example: '2500.5', description: 'USD, ≥ 0' })
  @IsString()
  @Matches(NOTIONAL_PATTERN, { message: 'position_notional must be a plain decimal number >= 0' })
  position_notional!: string;
}

export class BudgetCheckResponse {
  @ApiProperty({ type: Boolean, description: 'position_notional > budget_usd' })
  violation!: boolean;

  @ApiPropertyOptional({ type: Number, description: 'absent without a budget' })
  budget_usd?: number;

  @ApiPropertyOptional({ type: Number, description: 'position_notional − budget_usd when positive, else 0' })
  over_budget?: number;

  @ApiPropertyOptional({ enum: [...MODES, 'unknown'], description: 'the effective mode for the symbol' })
  mode?: Mode | 'unknown';

  @ApiPropertyOptional({ type: Boolean, description: 'the mode enforces (enforce or reduce_only)' })
  enforce?: boolean;

  @ApiPropertyOptional({
    type: String,
    enum: ['no_budget_data_fail_open', 'stale_budget_fail_open'],
    description:
      'only when the check fails open: no budget for the symbol, or one older than GATE_BUDGET_MAX_AGE_SEC',
  })
  reason?: 'no_budget_data_fail_open' | 'stale_budget_fail_open';
}
