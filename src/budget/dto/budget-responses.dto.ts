import { ApiProperty } from '@nestjs/swagger';
import { MODES, type Mode } from '../../platform/config/index.js';
import type { BudgetParams } from '../../core/budget-calculator.js';
import type { BudgetRecord } from '../budget.repository.js';

// Response shapes of the budget endpoints: documentation only, never instantiated.

/** `quantum:portfolio:budget:{SYMBOL}` as read back (docs/contract.md §2 Budget engine). */
export class BudgetRecordResponse implements BudgetRecord {
  @ApiProperty({ type: String, example: 'BTCUSDT' })
  symbol!: string;

  @ApiProperty({ type: Number, example: 1668, description: 'USD' })
  budget_usd!: number;

  @ApiProperty({ type: Number, minimum: 0, maximum: 1, example: 0.166 })
  stress_factor!: number;

  @ApiProperty({
    type: Number,
    example: 100000,
    description: 'USD, from the portfolio state (or its LKG copy)',
  })
  equity_usd!: number;

  @ApiProperty({ type: Number, minimum: 0, maximum: 1, example: 0.25 })
  portfolio_heat!: number;

  @ApiProperty({ type: Number, minimum: 0, maximum: 1, example: 0 })
  cluster_stress!: number;

  @ApiProperty({ type: Number, minimum: 0, maximum: 1, example: 0.33, description: 'a number, not a label' })
  vol_regime!: number;

  @ApiProperty({ enum: MODES, description: 'the mode when it was computed' })
  mode!: Mode;

  @ApiProperty({ type: Number, example: 1763700000, description: 'epoch seconds' })
  timestamp!: number;

  @ApiProperty({ type: Number, example: 0.02 })
  base_risk_pct!: number;

  @ApiProperty({ type: Number, example: 1200, description: 'USD' })
  position_notional!: number;

  @ApiProperty({ type: Number, example: 0.7194, description: 'position_notional / budget_usd' })
  utilization!: number;

  @ApiProperty({
    type: Number,
    required: false,
    example: 60000,
    description: "reference price: the position's, else the live market state's; absent when none is known",
  })
  price?: number;

  @ApiProperty({
    type: 'integer',
    example: 3,
    description: 'version of the risk policy the budget was computed with (docs/contract.md §7)',
  })
  policy_version!: number;
}

export class BudgetListResponse {
  @ApiProperty({ type: Number })
  count!: number;

  @ApiProperty({ type: [BudgetRecordResponse] })
  budgets!: BudgetRecordResponse[];
}

export class SimulateInputsResponse {
  @ApiProperty({ type: Number })
  equity_usd!: number;

  @ApiProperty({ type: Number })
  heat!: number;

  @ApiProperty({ type: Number })
  cluster_stress!: number;

  @ApiProperty({ type: Number })
  vol_regime!: number;

  @ApiProperty({ type: Number })
  position_notional!: number;
}

export class BudgetParamsResponse implements BudgetParams {
  @ApiProperty({ type: Number, example: 0.4 })
  alphaHeat!: number;

  @ApiProperty({ type: Number, example: 0.4 })
  betaCluster!: number;

  @ApiProperty({ type: Number, example: 0.2 })
  gammaVol!: number;

  @ApiProperty({ type: Number, example: 0.02 })
  baseRiskPct!: number;

  @ApiProperty({ type: Number, example: 500 })
  minBudgetUsd!: number;

  @ApiProperty({ type: Number, example: 10000 })
  maxBudgetUsd!: number;
}

export class SimulateBudgetResponse {
  @ApiProperty({ type: Number, minimum: 0, maximum: 1, example: 0.166 })
  stress_factor!: number;

  @ApiProperty({ type: Number, example: 1668 })
  budget_usd!: number;

  @ApiProperty({ type: Number, example: 0.7194 })
  utilization!: number;

  @ApiProperty({ type: Number, example: 0, description: 'USD over the budget, 0 when within it' })
  over_budget!: number;

  @ApiProperty({ type: Boolean, description: 'the engine would record a violation' })
  violation!: boolean;

  @ApiProperty({ type: SimulateInputsResponse, description: 'the inputs used, defaults filled in' })
  inputs!: SimulateInputsResponse;

  @ApiProperty({ type: BudgetParamsResponse, description: 'the configured parameters' })
  params!: BudgetParamsResponse;
}

export class InjectPortfolioStateResponse {
  @ApiProperty({ type: Boolean, example: true })
  ok!: boolean;

  @ApiProperty({ type: Boolean, example: true, description: 'as `ok`; the original proof script reads it' })
  success!: boolean;

  @ApiProperty({ type: String, example: 'quantum:state:portfolio' })
  key!: string;

  @ApiProperty({ type: Number })
  equity_usd!: number;

  @ApiProperty({ type: Number })
  drawdown!: number;

  @ApiProperty({ type: Number, description: 'epoch seconds' })
  timestamp!: number;

  @ApiProperty({ type: Number, example: 120 })
  ttl_sec!: number;
}
