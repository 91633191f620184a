import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNumber, IsOptional, IsPositive, Max, Min } from 'class-validator';

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/** POST /budgets/simulate: CONTRACT.md §2 inputs; omitted stress components count as 0. */
export class SimulateBudgetDto {
  @ApiProperty({ type: Number, exclusiveMinimum: true, minimum: 0, example: 100000, description: 'USD, > 0' })
  @IsNumber(FINITE)
  @IsPositive()
  equity_usd: number;

  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 1, default: 0, example: 0.25 })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  @Max(1)
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
