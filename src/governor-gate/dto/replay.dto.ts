import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNumber, IsObject, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';

const upper = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toUpperCase() : value;

/** `POST /ops/policy/replay` (docs/contract.md §7). */
export class ReplayDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    example: { base_risk_pct: 0.015 },
    description: 'candidate parameters (any subset; `{}` replays the policy in force)',
  })
  // the value as sent: class-transformer would drop keys such as `valueOf`
  @Transform(({ obj }) => (obj as { policy?: unknown }).policy)
  @IsObject({ message: 'policy must be an object of policy parameters' })
  policy!: Record<string, unknown>;

  @ApiPropertyOptional({ type: Number, description: 'epoch seconds: decisions logged at or after it' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'since must be epoch seconds' })
  @Min(0)
  @Max(9_999_999_999, { message: 'since must be epoch seconds' })
  since?: number;

  @ApiPropertyOptional({ type: Number, description: 'epoch seconds: decisions logged up to it' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'until must be epoch seconds' })
  @Min(0)
  @Max(9_999_999_999, { message: 'until must be epoch seconds' })
  until?: number;

  @ApiPropertyOptional({ type: String, pattern: SYMBOL_PATTERN.source })
  @IsOptional()
  @Transform(upper)
  @IsString({ message: 'symbol must be a string' })
  @Matches(SYMBOL_PATTERN, { message: SYMBOL_RULE })
  symbol?: string;
}
