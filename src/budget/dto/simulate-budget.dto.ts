import { IsNumber, IsOptional, IsPositive, Max, Min } from 'class-validator';

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/** POST /budgets/simulate: CONTRACT.md §2 inputs; omitted stress components count as 0. */
export class SimulateBudgetDto {
  @IsNumber(FINITE) @IsPositive() equity_usd: number;
  @IsOptional() @IsNumber(FINITE) @Min(0) @Max(1) heat?: number;
  @IsOptional() @IsNumber(FINITE) @Min(0) @Max(1) cluster_stress?: number;
  @IsOptional() @IsNumber(FINITE) @Min(0) @Max(1) vol_regime?: number;
  @IsOptional() @IsNumber(FINITE) @Min(0) position_notional?: number;
}
