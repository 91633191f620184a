import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { KnownSymbols } from '../platform/observability/known-symbols.js';
import { Metrics } from '../platform/observability/metrics.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { Keys } from '../platform/redis/keys.js';
import {
  Batch,
  type Command,
  type RedisSession,
  type Reply,
  type WriteOutcome,
} from '../platform/redis/batch.js';
import { budgetParams } from './budget.calculator.js';
import { BudgetCalculator, paramsOf } from '../core/budget-calculator.js';
import { PolicyReader } from '../platform/policy/policy-reader.js';
import { BudgetRedis } from './budget-redis.js';
import { BudgetStatusRepository } from './budget-status.repository.js';
import { BUDGET_FIELDS, budgetValues, BudgetRepository, type BudgetRecord } from './budget.repository.js';
import { HeatReader } from './inputs/heat.reader.js';
import { StaleInputs, type InputStatus, type Reading } from './inputs/reading.js';
import { LkgCache, type PortfolioDecision } from './lkg.js';
import { TickReader, type TickInputs } from './tick-inputs.js';

type TickOutcome =
  /** budgets computed and written (possibly for zero active symbols) */
  | 'written'
  /** no usable portfolio state: nothing written (fail-open) */
  | 'too_old'
  | 'missing_state'
  /** Redis unreachable mid-tick */
  | 'failed';

interface GaugeValues {
  budgetUsd: number;
  stress: number;
  utilization: number;
}

const NO_REPLIES: Array<() => Reply> = [];

/** One tick's session, and what it has counted so far. */
interface Tick {
  started: number;
  session: RedisSession;
  stale: StaleInputs;
}

type Usable = Extract<TickInputs, { kind: 'usable' }>;

/** The heat as a tick's result shows it. */
const heatView = (h: Reading<number>): TickResult['heat'] => ({
  value: h.value,
  status: h.status,
  source: h.source,
});

/** One symbol's budget, serialised, before anything is queued. */
interface Planned {
  record: BudgetRecord;
  values: string[];
  /** the violation's commands, when the position is over budget */
  event?: Command[];
  overBudget: number;
}

interface Plan {
  planned: Planned[];
  refusals: Refusals;
}

/** One symbol's queued writes. */
interface Refusals {
  refused: number;
  refusedError?: { symbol: string; error: string };
}

interface Found {
  record: BudgetRecord;
  violation: boolean;
  budget: () => WriteOutcome;
  event: Array<() => Reply>;
}

/**
 * Queues the violations of a tick (the budgets are already queued) in ascending order of
 * over_budget, so the worst are the newest stream entries: the original governor reads only the
 * last 10 of the stream.
 */
function queueViolations(writes: Batch, found: Found[], planned: Planned[]): void {
  const bySymbol = new Map(found.map((f) => [f.record.symbol, f]));
  const over = planned.filter((p) => p.event !== undefined);
  over.sort((a, b) => a.overBudget - b.overBudget || (a.record.symbol < b.record.symbol ? -1 : 1));
  for (const p of over) {
    const f = bySymbol.get(p.record.symbol);
    if (f && p.event) f.event = p.event.map((c) => writes.add(c));
  }
}

/** What one tick did, for tests, the bench and /health. */
export interface TickResult {
  outcome: TickOutcome;
  portfolio: PortfolioDecision['outcome'];
  /**
   * Budgeted symbols, sorted: active positions (non-zero, non-FLAT, with a usable price) and the
   * flat symbols of the tradable universe (market-state keys, BUDGET_UNIVERSE).
   */
  symbols: string[];
  /** Budget hashes written successfully. */
  written: number;
  /** Budgets were written (or there was nothing to budget); false counts in p28_budget_tick_failed_total. */
  success: boolean;
  /** Symbols whose violation was found this tick. */
  violations: string[];
  /** Every Redis round trip of the tick, SCAN pages included. */
  roundTrips: number;
  /** The SCAN pages among them: they grow with the keyspace, the rest must not grow with N. */
  scanRoundTrips: number;
  writeFailures: number;
  heat: { value: number; status: InputStatus; source?: string };
  stale: Record<string, { count: number; samples: string[] }>;
  durationMs: number;
}

/**
 * One budget tick (docs/contract.md §1–2 Inputs, Budget engine): read every input in a fixed number of round trips, compute
 * per active symbol, write everything in one batch. It does not judge leadership: the scheduler
 * only calls it on the leader. Calls are serialised, so ticks never overlap even when a test or
 * an operator calls tick() while the scheduler's tick runs.
 */
@Injectable()
export class BudgetEngine {
  private readonly logger = new Logger('BudgetEngine');
  /** the calculator of the policy in force, rebuilt when its version changes; one per tick */
  private calculator: BudgetCalculator;
  private policyVersion = -1;
  private readonly lkg: LkgCache;
  private chain: Promise<unknown> = Promise.resolve();
  /** What the per-symbol gauges show now (only this engine sets them). */
  private gauges = new Map<string, GaugeValues>();
  private last?: TickResult;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly mode: ModeReader,
    private readonly policy: PolicyReader,
    private readonly redis: BudgetRedis,
    private readonly repo: BudgetRepository,
    private readonly reader: TickReader,
    private readonly heat: HeatReader,
    private readonly status: BudgetStatusRepository,
    private readonly known: KnownSymbols,
  ) {
    this.calculator = new BudgetCalculator(budgetParams(config));
    this.lkg = new LkgCache({ staleSec: config.STALE_SEC, maxLkgAgeSec: config.MAX_LKG_AGE_SEC });
  }

  get intervalMs(): number {
    return Math.round(this.config.BUDGET_COMPUTE_INTERVAL_SEC * 1000);
  }

  /** The heat fetch may not eat the whole interval: a hanging heat gate must not stall the loop. */
  get heatTimeoutMs(): number {
    return Math.max(10, Math.min(this.config.HEAT_TIMEOUT_MS, Math.floor(this.intervalMs / 2)));
  }

  get lastResult(): TickResult | undefined {
    return this.last;
  }

  tick(): Promise<TickResult> {
    const next = this.chain.then(() => this.run());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** The policy in force at the start of a tick decides the whole tick (docs/contract.md §7). */
  private usePolicy() {
    const v = this.policy.current();
    if (v.version === this.policyVersion) return;
    try {
      this.calculator = new BudgetCalculator(paramsOf(v.policy));
      this.policyVersion = v.version;
    } catch (err) {
      // the store only serves valid policies; kept as a tripwire: the last calculator stays
      this.logger.error({ msg: 'risk policy refused by the calculator', error: (err as Error).message });
    }
  }

  /** One tick: read → plan → write → report (`finish`). */
  private async run(): Promise<TickResult> {
    this.usePolicy();
    const tick: Tick = {
      started: performance.now(),
      session: this.redis.session(),
      stale: new StaleInputs(),
    };
    const heatP = this.heat.read(this.heatTimeoutMs);
    const inputs = await this.reader.read(tick.session, tick.stale, heatP, this.lkg);
    if (inputs.kind === 'failed') return this.failed(tick, inputs.error, inputs.portfolio, heatP);
    try {
      const symbols = inputs.active.map((p) => p.symbol);
      this.metrics.activeSymbols.set(symbols.length);
      const read = { portfolio: inputs.decision.outcome, symbols, heat: heatView(inputs.heat) };
      const nothing = { written: 0, violations: [], writeFailures: 0 };
      if (inputs.kind === 'unusable') {
        await this.writeNothing(tick.session, symbols.length);
        const outcome = inputs.decision.outcome === 'too_old' ? 'too_old' : 'missing_state';
        return this.finish(tick, { outcome, ...read, ...nothing });
      }
      const now = this.clock.nowSec();
      const plan = this.planBudgets(inputs, now, tick.stale);
      const wrote = await this.writeBudgets(tick.session, plan, symbols.length, now);
      return this.finish(tick, { outcome: 'written', ...read, ...wrote });
    } catch (err) {
      return this.failed(tick, err, inputs.decision.outcome, heatP);
    }
  }

  /**
   * docs/contract.md §2 Budget engine: a Redis read error behaves like a missing state. When the
   * state's own read failed, the LKG rule still decides on the cache alone, so its counters say
   * what the tick had to go on (lkg, too old or missing); nothing can be written while Redis fails
   * the reads.
   */
  private async failed(
    tick: Tick,
    err: unknown,
    portfolio: PortfolioDecision['outcome'] | undefined,
    heatP: Promise<Reading<number>>,
  ): Promise<TickResult> {
    this.logger.error({ msg: 'budget tick failed', error: (err as Error).message });
    portfolio ??= this.lkg.resolve(undefined, this.clock.nowSec()).outcome;
    const heat = await heatP;
    return this.finish(tick, {
      outcome: 'failed',
      portfolio,
      symbols: [],
      written: 0,
      violations: [],
      writeFailures: 0,
      heat: heatView(heat),
    });
  }

  /** Report: the tick's result, counted, logged and kept for /health. */
  private finish(
    tick: Tick,
    r: Omit<TickResult, 'roundTrips' | 'durationMs' | 'stale' | 'scanRoundTrips' | 'success'>,
  ): TickResult {
    const durationMs = performance.now() - tick.started;
    const result: TickResult = {
      ...r,
      success: BudgetEngine.succeeded(r),
      roundTrips: tick.session.roundTrips,
      scanRoundTrips: tick.session.scanRoundTrips,
      stale: tick.stale.toJSON(),
      durationMs,
    };
    this.report(result, tick.stale);
    this.last = result;
    return result;
  }

  /**
   * A tick succeeded when it wrote a budget, or had no symbol to budget (nothing to enforce).
   * Anything else while symbols are budgeted is a failed tick (docs/contract.md §2 Budget engine).
   */
  static succeeded(r: Pick<TickResult, 'outcome' | 'symbols' | 'written'>): boolean {
    if (r.outcome === 'failed') return false;
    return r.symbols.length === 0 || (r.outcome === 'written' && r.written > 0);
  }

  /** Plan: one budget record (and violation event) per target, serialised before anything is queued. */
  private planBudgets(inputs: Usable, now: number, stale: StaleInputs): Plan {
    const { active, clusterOf, volOf } = inputs;
    const equityUsd = inputs.decision.state.equityUsd;
    const heat = inputs.heat.value;
    const refusals: Refusals = { refused: 0 };
    const planned: Planned[] = [];
    for (const pos of active) {
      try {
        const cluster = clusterOf(pos.symbol, stale);
        const vol = volOf(pos.symbol, stale);
        const out = this.calculator.compute({
          equityUsd,
          heat,
          cluster: cluster.value,
          vol: vol.value,
          positionNotional: pos.notional,
        });
        if (!out.ok) {
          stale.add('position', `${pos.symbol}: ${out.field} ${out.reason}`);
          continue;
        }
        const r = out.result;
        const mode = this.mode.writableMode(pos.symbol);
        const record: BudgetRecord = {
          symbol: pos.symbol,
          budget_usd: r.budgetUsd,
          stress_factor: r.stress,
          equity_usd: equityUsd,
          portfolio_heat: heat,
          cluster_stress: cluster.value,
          vol_regime: vol.value,
          mode,
          timestamp: now,
          base_risk_pct: this.calculator.params.baseRiskPct,
          policy_version: this.policyVersion,
          position_notional: r.positionNotional,
          utilization: r.utilization,
          price: pos.price ?? null,
        };
        // serialise everything before queueing anything, so a refused value queues nothing
        const values = budgetValues(record);
        const event = r.violation
          ? this.repo.violationCommands({
              event_type: 'budget.violation',
              symbol: pos.symbol,
              position_notional: r.positionNotional,
              budget_usd: r.budgetUsd,
              over_budget: r.overBudget,
              mode,
              timestamp: now,
            })
          : undefined;
        planned.push({ record, values, event, overBudget: r.overBudget });
      } catch (err) {
        // unreachable while the readers and calculator hold their contracts; kept as a tripwire,
        // and whatever it was, it costs this symbol its budget, never the others theirs
        refusals.refused += 1;
        refusals.refusedError ??= { symbol: pos.symbol, error: (err as Error).message };
      }
    }

    return { planned, refusals };
  }

  /** Write: the 3rd and last batch (every budget and violation), then the status. */
  private async writeBudgets(
    session: RedisSession,
    { planned, refusals }: Plan,
    targets: number,
    now: number,
  ): Promise<Pick<TickResult, 'written' | 'violations' | 'writeFailures'>> {
    const writes = new Batch();
    const found = this.queueBudgets(writes, planned, this.repo.budgetTtlSec, refusals);
    queueViolations(writes, found, planned);
    const { refused, refusedError } = refusals;
    if (refusedError) {
      this.logger.error({
        msg: refusedError.error.includes('not finite')
          ? 'refused to write a non-finite value'
          : 'refused to write a budget',
        symbols: refused,
        ...refusedError,
      });
    }
    try {
      await writes.run(session);
    } catch (err) {
      writes.fail(err as Error);
    }
    const { writeFailures, written, violations } = this.tally(found);
    this.clearGauges(written);
    // a round trip of its own: the status says what Redis accepted, which only its replies tell
    await this.publishStatus(session, targets, written.size);
    // per-key failures are counted above; the loop has stalled only when nothing was written
    if (BudgetStatusRepository.succeeded(targets, written.size)) this.metrics.loopLastSuccess.set(now);
    if (violations.length > 0) {
      this.logger.log({
        msg: 'budget violations',
        count: violations.length,
        symbols: violations.slice(0, 20),
      });
    }
    return { written: written.size, violations, writeFailures };
  }

  /**
   * Without a usable state nothing is written, but followers learn from the status whether this
   * was a success (nothing to enforce) or not.
   */
  private async writeNothing(session: RedisSession, targets: number): Promise<void> {
    this.clearGauges(new Map());
    await this.publishStatus(session, targets, 0);
    if (targets === 0) this.metrics.loopLastSuccess.set(this.clock.nowSec());
  }

  /** Write, part one: every budget hash into the batch; a value that cannot be queued is refused. */
  private queueBudgets(writes: Batch, planned: Planned[], ttlSec: number, refusals: Refusals): Found[] {
    const found: Found[] = [];
    for (const p of planned) {
      try {
        found.push({
          record: p.record,
          violation: p.event !== undefined,
          budget: writes.hsetExpire(Keys.budget(p.record.symbol), BUDGET_FIELDS, p.values, ttlSec),
          event: NO_REPLIES,
        });
      } catch (err) {
        refusals.refused += 1;
        refusals.refusedError ??= { symbol: p.record.symbol, error: (err as Error).message };
      }
    }
    return found;
  }

  /** Report, part one: what Redis accepted per symbol, counted and logged. */
  private tally(found: Found[]): {
    writeFailures: number;
    written: Map<string, GaugeValues>;
    violations: string[];
  } {
    let writeFailures = 0;
    const failedSymbols: string[] = [];
    const written = new Map<string, GaugeValues>();
    const violations: string[] = [];
    let firstError: Error | null = null;
    for (const { record, violation, budget, event } of found) {
      const s = record.symbol;
      const b = budget();
      let failures = b.failed;
      firstError ??= b.error;
      for (const reply of event) {
        const [err] = reply();
        if (err) {
          failures += 1;
          firstError ??= err;
        }
      }
      if (failures > 0) {
        writeFailures += failures;
        failedSymbols.push(s);
      }
      if (violation) {
        violations.push(s);
        this.metrics.budgetBlocks.inc({ symbol: s });
      }
      if (b.failed > 0) continue;
      written.set(s, this.showGauges(s, record));
      this.metrics.budgetComputed.inc({ symbol: s });
    }
    if (writeFailures > 0) {
      this.metrics.redisWriteFail.inc(writeFailures);
      this.logger.error({
        msg: 'budget writes failed',
        failed_commands: writeFailures,
        symbols: failedSymbols.slice(0, 5),
        error: firstError?.message,
      });
    }
    return { writeFailures, written, violations };
  }

  private async publishStatus(session: RedisSession, symbols: number, written: number): Promise<void> {
    try {
      await session.exec(this.status.commands(this.clock.nowMs(), symbols, written));
    } catch (err) {
      this.logger.warn({ msg: 'budget status not written', error: (err as Error).message });
    }
  }

  /**
   * Sets a symbol's gauges to its new budget. A gauge already showing the value is left alone:
   * budgets mostly repeat from tick to tick, and at 10,000 symbols three prom-client sets per
   * symbol were a measurable part of the tick.
   */
  private showGauges(symbol: string, record: BudgetRecord): GaugeValues {
    const shown = this.gauges.get(symbol);
    const labels = { symbol };
    if (shown?.budgetUsd !== record.budget_usd) this.metrics.budgetValue.set(labels, record.budget_usd);
    if (shown?.stress !== record.stress_factor) this.metrics.stressFactor.set(labels, record.stress_factor);
    if (shown?.utilization !== record.utilization) this.metrics.utilization.set(labels, record.utilization);
    if (!shown) {
      return { budgetUsd: record.budget_usd, stress: record.stress_factor, utilization: record.utilization };
    }
    shown.budgetUsd = record.budget_usd;
    shown.stress = record.stress_factor;
    shown.utilization = record.utilization;
    return shown;
  }

  /** Gauges of symbols that got no budget this tick would otherwise show old values forever. */
  private clearGauges(current: Map<string, GaugeValues>) {
    for (const s of this.gauges.keys()) {
      if (current.has(s)) continue;
      this.metrics.budgetValue.remove({ symbol: s });
      this.metrics.stressFactor.remove({ symbol: s });
      this.metrics.utilization.remove({ symbol: s });
    }
    this.gauges = current;
  }

  /**
   * Series of symbols that left the engine are removed, counters included: a symbol seen once must
   * not hold its series for the life of the process. A failed tick knows no symbols: nothing moves.
   */
  private forget(result: TickResult) {
    if (result.outcome === 'failed') return;
    for (const symbol of this.known.replace(result.symbols)) {
      const labels = { symbol };
      this.metrics.budgetComputed.remove(labels);
      this.metrics.budgetBlocks.remove(labels);
      this.metrics.budgetAllow.remove(labels);
    }
  }

  private report(result: TickResult, stale: StaleInputs) {
    this.forget(result);
    this.metrics.loopDuration.observe(result.durationMs / 1000);
    if (!result.success) this.metrics.tickFailed.inc();
    for (const [type, count] of stale.counts) this.metrics.staleInput.inc({ input_type: type }, count);
    // once per tick under the name the original service's alert thresholds use
    if (result.portfolio !== 'fresh') this.metrics.staleInput.inc({ input_type: 'portfolio_state' });
    if (!stale.empty) this.logger.warn({ msg: 'inputs missing or garbage this tick', inputs: result.stale });
    switch (result.portfolio) {
      case 'lkg':
        this.metrics.lkgUsed.inc();
        this.logger.warn({
          msg: 'portfolio state stale: budgets computed from the last known good',
          state_age_sec: this.lkg.current
            ? Math.round(this.clock.nowSec() - this.lkg.current.timestamp)
            : null,
        });
        break;
      case 'too_old':
        this.metrics.portfolioTooOld.inc();
        this.logger.error({
          msg: 'portfolio state older than MAX_LKG_AGE_SEC: no budgets written (fail-open)',
          max_lkg_age_sec: this.config.MAX_LKG_AGE_SEC,
        });
        break;
      case 'missing':
        this.metrics.missingPortfolio.inc();
        this.logger.error({ msg: 'no portfolio state and no cached state: no budgets written (fail-open)' });
        break;
    }
    this.logger.debug({
      msg: 'budget tick',
      outcome: result.outcome,
      portfolio: result.portfolio,
      active_symbols: result.symbols.length,
      written: result.written,
      violations: result.violations.length,
      round_trips: result.roundTrips,
      duration_ms: Math.round(result.durationMs * 10) / 10,
    });
  }
}
