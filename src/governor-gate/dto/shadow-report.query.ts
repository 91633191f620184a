import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';

export class ShadowReportQuery {
  /** Epoch seconds; default: the last 24 hours. */
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'since must be epoch seconds' })
  @Min(0)
  // beyond year 2286: also keeps since × 1000 a plain integer for the stream id
  @Max(9_999_999_999, { message: 'since must be epoch seconds' })
  since?: number;
}
