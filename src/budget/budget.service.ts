import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { errorBody } from '../platform/http/error-body.js';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { KnownSymbols } from '../platform/observability/known-symbols.js';
import { Metrics } from '../platform/observability/metrics.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { Keys } from '../platform/redis/keys.js';
import { budgetParams } from './budget.calculator.js';
import { BudgetCalculator, paramsOf, roundTo } from '../core/budget-calculator.js';
import { PolicyReader } from '../platform/policy/policy-reader.js';
import { BudgetRedis } from './budget-redis.js';
import { BudgetRepository } from './budget.repository.js';
import type { InjectPortfolioStateDto } from './dto/inject-portfolio-state.dto.js';
import type { SimulateBudgetDto } from './dto/simulate-budget.dto.js';
import { FUTURE_TOLERANCE_SEC } from './inputs/reading.js';
import { VOL_NORMAL } from './inputs/volatility.reader.js';

export const INJECTED_STATE_TTL_SEC = 120;

/** What the budget HTTP API does; the controllers only route to it. */
@Injectable()
export class BudgetService {
  private calculator: BudgetCalculator;
  private policyVersion = -1;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly redis: BudgetRedis,
    private readonly repo: BudgetRepository,
    private readonly metrics: Metrics,
    private readonly known: KnownSymbols,
    private readonly mode: ModeReader,
    private readonly policy: PolicyReader,
  ) {
    this.calculator = new BudgetCalculator(budgetParams(config));
  }

  /** The calculator of the risk policy in force (docs/contract.md §7), rebuilt when it changes. */
  private calc(): BudgetCalculator {
    const v = this.policy.current();
    if (v.version !== this.policyVersion) {
      this.calculator = new BudgetCalculator(paramsOf(v.policy));
      this.policyVersion = v.version;
    }
    return this.calculator;
  }

  async list() {
    const budgets = await this.repo.list(this.redis.session());
    return { count: budgets.length, budgets };
  }

  /** `symbol` has passed the symbol rule: it is safe in a key and in a message. */
  async get(symbol: string) {
    const budget = await this.repo.get(this.redis.session(), symbol);
    if (!budget) throw new NotFoundException(errorBody(404, `no budget for ${symbol}`));
    return budget;
  }

  /**
   * The original service's budget check (docs/contract.md §5 HTTP API): the notional against the current budget,
   * failing open without one. A check within budget counts in p28_budget_allow_total.
   */
  async check(symbol: string, positionNotional: number) {
    const budget = await this.repo.get(this.redis.session(), symbol);
    const budgetUsd = budget?.budget_usd;
    if (typeof budgetUsd !== 'number') {
      return { violation: false, reason: 'no_budget_data_fail_open' as const };
    }
    // judged like the gate judges (docs/contract.md §3): a budget it no longer trusts decides nothing
    const at = budget?.timestamp;
    const now = this.clock.nowSec();
    if (
      typeof at !== 'number' ||
      now - at > this.config.GATE_BUDGET_MAX_AGE_SEC ||
      at > now + FUTURE_TOLERANCE_SEC
    ) {
      return { violation: false, reason: 'stale_budget_fail_open' as const };
    }
    const notional = roundTo(positionNotional, 2);
    const violation = notional > budgetUsd;
    const mode = this.mode.writableMode(symbol);
    if (!violation) this.metrics.budgetAllow.inc({ symbol: this.known.label(symbol) });
    return {
      violation,
      budget_usd: budgetUsd,
      over_budget: violation ? roundTo(notional - budgetUsd, 2) : 0,
      mode,
      enforce: mode !== 'shadow' && mode !== 'unknown', // enforce, or the reduce_only kill switch
    };
  }

  simulate(dto: SimulateBudgetDto) {
    const inputs = {
      equity_usd: dto.equity_usd,
      heat: dto.heat ?? 0,
      cluster_stress: dto.cluster_stress ?? 0,
      // as the engine: a missing volatility input counts as normal (docs/contract.md §1 Inputs)
      vol_regime: dto.vol_regime ?? VOL_NORMAL,
      position_notional: dto.position_notional ?? 0,
    };
    const calculator = this.calc();
    const out = calculator.compute({
      equityUsd: inputs.equity_usd,
      heat: inputs.heat,
      cluster: inputs.cluster_stress,
      vol: inputs.vol_regime,
      positionNotional: inputs.position_notional,
    });
    if (!out.ok) throw badRequest(out.field, out.reason); // the DTO already refuses these
    const r = out.result;
    return {
      stress_factor: r.stress,
      budget_usd: r.budgetUsd,
      utilization: r.utilization,
      over_budget: r.overBudget,
      violation: r.violation,
      inputs,
      params: calculator.params,
    };
  }

  async injectPortfolioState(query: InjectPortfolioStateDto, body: InjectPortfolioStateDto | undefined) {
    const equity = body?.equity_usd ?? query.equity_usd;
    const drawdown = body?.drawdown ?? query.drawdown ?? 0;
    if (equity === undefined) throw badRequest('equity_usd', 'is required (query string or JSON body)');
    const timestamp = this.clock.nowSec();
    const key = Keys.portfolioState;
    await this.redis.session().atomic([
      [
        'hset',
        key,
        'equity_usd',
        String(equity),
        'drawdown',
        String(drawdown),
        'timestamp',
        String(timestamp),
      ],
      ['expire', key, INJECTED_STATE_TTL_SEC],
    ]);
    // `success` as well: the original proof script checks that field
    return {
      ok: true,
      success: true,
      key,
      equity_usd: equity,
      drawdown,
      timestamp,
      ttl_sec: INJECTED_STATE_TTL_SEC,
    };
  }
}

/** The same 400 shape as the global ValidationPipe, for checks it cannot express. */
function badRequest(field: string, rule: string) {
  return new BadRequestException(errorBody(400, [`${field}: ${field} ${rule}`], { fields: [field] }));
}
