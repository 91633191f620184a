import { PLAN_SIDES } from '../../core/side.js';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsNumber, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import { MODES, type Mode } from '../../platform/config/index.js';
import {
  BLOCK_REASONS,
  FAIL_OPEN_REASONS,
  REASON_REDUCES_RISK,
  REASON_WITHIN_BUDGET,
  type FailOpenReason,
  type GateReason,
} from '../../core/reasons.js';
import type { GateDecision, PlanInput, PlanSide } from '../gate.types.js';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';

export { SYMBOL_PATTERN };

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/** Body of `POST /governor/evaluate` (docs/contract.md §5 HTTP API). */
export class EvaluatePlanDto implements PlanInput {
  @ApiProperty({
    type: String,
    minLength: 1,
    maxLength: 128,
    example: 'plan-7f3a',
    description: 'the plan id',
  })
  @IsString()
  @Length(1, 128)
  plan_id!: string;

  @ApiProperty({ type: String, pattern: SYMBOL_PATTERN.source, example: 'BTCUSDT' })
  @IsString()
  @Matches(SYMBOL_PATTERN, { message: SYMBOL_RULE })
  symbol!: string;

  @ApiPropertyOptional({
    enum: PLAN_SIDES,
    description: 'with qty, lets the gate see a risk-reducing plan',
  })
  @IsOptional()
  @IsIn(PLAN_SIDES)
  side?: PlanSide;

  @ApiPropertyOptional({ type: Number, minimum: 0, example: 0.05, description: 'base-asset quantity' })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  qty?: number;

  @ApiPropertyOptional({
    type: Number,
    minimum: 0,
    example: 2500,
    description: 'USD notional of the position after the plan; compared with the budget',
  })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  projected_notional?: number;

  @ApiPropertyOptional({ type: Boolean, description: 'the plan only lowers |position|: always allowed' })
  @IsOptional()
  @IsBoolean()
  reduce_only?: boolean;
}

/** Every reason a decision can carry, in a stable order for the schema. */
const GATE_REASONS: readonly GateReason[] = [
  ...BLOCK_REASONS,
  ...FAIL_OPEN_REASONS,
  REASON_REDUCES_RISK,
  REASON_WITHIN_BUDGET,
];

/** Response of `POST /governor/evaluate` (docs/contract.md §3 Gate 0); documentation only, never instantiated. */
export class GateDecisionResponse implements GateDecision {
  @ApiProperty({ enum: ['ALLOW', 'BLOCK'], description: '200 for both: a BLOCK is an answer, not an error' })
  decision!: 'ALLOW' | 'BLOCK';

  @ApiProperty({
    enum: GATE_REASONS,
    description: `BLOCK: ${BLOCK_REASONS.join(', ')}; fail-open ALLOW: ${FAIL_OPEN_REASONS.join(', ')}`,
  })
  reason!: GateReason;

  @ApiProperty({ enum: MODES, description: "the symbol's effective mode" })
  mode!: Mode;

  @ApiProperty({
    type: Boolean,
    description:
      'true when the mode is enforce and the gate judged the plan; false in shadow and on fail-open',
  })
  enforced!: boolean;

  @ApiPropertyOptional({ type: Number, example: 1668 })
  budget_usd?: number;

  @ApiPropertyOptional({ type: Number, example: 1200, description: 'current position notional (USD)' })
  position_notional?: number;

  @ApiPropertyOptional({ enum: FAIL_OPEN_REASONS, description: 'set when the ALLOW is a fail-open' })
  fail_open?: FailOpenReason;
}
