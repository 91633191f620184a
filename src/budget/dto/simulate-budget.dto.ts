import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNumber, IsOptional, IsPositive, Max, Min } from 'class-validator';

const FINITE = { allowNaN: false, allowInfinity: false } as const;
/** A sanity bound, far above any heat a real portfolio reaches. */
const HEAT_MAX = 1000;

/** POST /budgets/simulate: docs/contract.md §2 Budget engine inputs; omitted stress components count as 0. */
export class SimulateBudgetDto {
  @ApiProperty({ type: Number, exclusiveMinimum: true, minimum: 0, example: 100000, description: 'USD, > 0' })
  @IsNumber(FINITE)
  @IsPositive()
  equity_usd: number;

  /** Not clamped (docs/contract.md §1): the heat gate's heat can exceed 1; only the stress is clamped. */
  @ApiPropertyOptional({
    type: Number,
    minimum: 0,
    maximum: HEAT_MAX,
    default: 0,
    example: 0.25,
    description: 'the heat gate value, not clamped: above 1 tightens the budget further',
  })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  @Max(HEAT_MAX)
  heat?: number;

  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 1, default: 0, example: 0 })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  @Max(1)
  cluster_stress?: number;

  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 1, default: 0, example: 0.33 })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  @Max(1)
  vol_regime?: number;

  @ApiPropertyOptional({
    type: Number,
    minimum: 0,
    default: 0,
    example: 1200,
    description: 'USD; shows utilization and whether it would be a violation',
  })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  position_notional?: number;
}
