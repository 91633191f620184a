import { IsBoolean, IsIn, IsNumber, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import type { PlanInput, PlanSide } from '../gate.types.js';

/** Upper-case exchange symbols (BTCUSDT, 1000PEPEUSDT, BTC-PERP): no spaces, colons or globs in key names. */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9._-]{0,31}$/;

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/** Body of `POST /governor/evaluate` (CONTRACT.md §5). */
export class EvaluatePlanDto implements PlanInput {
  @IsString() @Length(1, 128) plan_id!: string;

  @IsString()
  @Matches(SYMBOL_PATTERN, { message: 'symbol must be 1-32 upper-case letters, digits, ".", "_" or "-"' })
  symbol!: string;

  @IsOptional() @IsIn(['BUY', 'SELL']) side?: PlanSide;

  @IsOptional() @IsNumber(FINITE) @Min(0) qty?: number;

  @IsOptional() @IsNumber(FINITE) @Min(0) projected_notional?: number;

  @IsOptional() @IsBoolean() reduce_only?: boolean;
}
