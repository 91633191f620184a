import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsNumber, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';

const upper = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toUpperCase() : value;

/** `GET /governor/decisions` (docs/contract.md §7). */
export class DecisionsQuery {
  @ApiPropertyOptional({ type: String, description: 'the plan whose decisions to show' })
  @IsOptional()
  @IsString({ message: 'plan_id must be a single string' })
  @Length(1, 200, { message: 'plan_id must be 1 to 200 characters' })
  plan_id?: string;

  @ApiPropertyOptional({ type: String, pattern: SYMBOL_PATTERN.source, example: 'BTCUSDT' })
  @IsOptional()
  @Transform(upper)
  @IsString({ message: 'symbol must be a single string' })
  @Matches(SYMBOL_PATTERN, { message: SYMBOL_RULE })
  symbol?: string;

  @ApiPropertyOptional({ type: Number, minimum: 0, description: 'epoch seconds: decisions at or after it' })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'since must be epoch seconds' })
  @Min(0)
  @Max(9_999_999_999, { message: 'since must be epoch seconds' })
  since?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be >= 1' })
  @Max(1000, { message: 'limit must be <= 1000' })
  limit?: number;
}
