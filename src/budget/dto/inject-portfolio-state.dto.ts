import { Type } from 'class-transformer';
import { IsNumber, IsOptional, IsPositive } from 'class-validator';

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/**
 * POST /test/inject_portfolio_state, from the query string or the JSON body (both optional here:
 * the controller requires equity_usd from one of them). Query values are strings, hence @Type.
 */
export class InjectPortfolioStateDto {
  @IsOptional() @Type(() => Number) @IsNumber(FINITE) @IsPositive() equity_usd?: number;
  @IsOptional() @Type(() => Number) @IsNumber(FINITE) drawdown?: number;
}
