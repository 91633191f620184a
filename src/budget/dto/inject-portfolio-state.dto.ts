import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNumber, IsOptional, IsPositive } from 'class-validator';

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/**
 * POST /test/inject_portfolio_state, from the query string or the JSON body (both optional here:
 * the controller requires equity_usd from one of them). Query values are strings, hence @Type.
 */
export class InjectPortfolioStateDto {
  @ApiPropertyOptional({
    type: Number,
    exclusiveMinimum: true,
    minimum: 0,
    example: 100000,
    description: 'USD, > 0; required from the query string or the body',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber(FINITE)
  @IsPositive()
  equity_usd?: number;

  @ApiPropertyOptional({ type: Number, default: 0, example: 0.05 })
  @IsOptional()
  @Type(() => Number)
  @IsNumber(FINITE)
  drawdown?: number;
}
