import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';
import type { ShadowReport, SymbolSummary } from '../shadow-report.js';

export class ShadowReportQuery {
  /** Epoch seconds; default: the last 24 hours. */
  @ApiPropertyOptional({
    type: Number,
    minimum: 0,
    maximum: 9_999_999_999,
    example: 1_763_700_000,
    description: 'epoch seconds: records at or after it (default: the last 24 hours)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'since must be epoch seconds' })
  @Min(0)
  // beyond year 2286: also keeps since × 1000 a plain integer for the stream id
  @Max(9_999_999_999, { message: 'since must be epoch seconds' })
  since?: number;
}

// Response shapes of GET /ops/shadow-report: documentation only, never instantiated.

export class ShadowSymbolSummaryResponse implements SymbolSummary {
  @ApiProperty({ type: Number, description: 'distinct plan ids with a would-block record for the symbol' })
  count!: number;

  @ApiProperty({ type: Number, description: 'would-block records, repeats of a plan included' })
  records!: number;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'largest notional − budget seen (values the gate computed, at most 1e12); null when no record carried both',
  })
  max_over_budget!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'epoch seconds of the newest record' })
  last_seen!: number | null;
}

export class ShadowTotalsResponse {
  @ApiProperty({ type: Number, description: 'distinct plan ids' })
  count!: number;

  @ApiProperty({ type: Number, description: 'records, repeats included' })
  records!: number;

  @ApiProperty({ type: Number, description: 'distinct symbols' })
  symbols!: number;

  @ApiProperty({ type: Number, nullable: true })
  max_over_budget!: number | null;
}

export class ShadowReportResponse implements ShadowReport {
  @ApiProperty({ type: Number, description: 'epoch seconds the report starts at' })
  since!: number;

  @ApiProperty({ type: ShadowTotalsResponse })
  totals!: ShadowTotalsResponse;

  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/ShadowSymbolSummaryResponse' },
    description: 'per symbol',
  })
  symbols!: Record<string, ShadowSymbolSummaryResponse>;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'seconds since the oldest record in the window (the stream is capped: it says how far back it sees)',
  })
  oldest_age_sec!: number | null;

  @ApiProperty({ type: Boolean, description: 'the scan stopped at its cap before the end of the stream' })
  truncated!: boolean;
}
