import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Min } from 'class-validator';

export class ShadowReportQuery {
  /** Epoch seconds; default: the last 24 hours. */
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'since must be epoch seconds' })
  @Min(0)
  since?: number;
}
