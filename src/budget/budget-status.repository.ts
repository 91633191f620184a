import { Injectable } from '@nestjs/common';
import { AppConfig } from '../platform/config/index.js';
import { Keys } from '../platform/redis/keys.js';
import type { Command } from '../platform/redis/batch.js';
import { BudgetRedis } from './budget-redis.js';
import { FUTURE_TOLERANCE_SEC } from './inputs/reading.js';
import { parseNumber } from '../core/numbers.js';

const FIELDS = ['last_success_ms', 'symbols', 'written', 'tick_ms'] as const;

export type BudgetStatus =
  | { ok: true; lastSuccessMs: number; symbols: number; written: number }
  /** absent, unreadable, or a success time in the future (it would never age) */
  | { ok: false; why: 'absent' | 'garbage' | 'future' | 'not_written' };

/**
 * The leader's budget writes as they went, shared through Redis so that a follower (which computes
 * nothing) can judge readiness by what is actually enforced (docs/contract.md §5). Every tick sets
 * `tick_ms`, `symbols` and `written` (budgets Redis accepted); `last_success_ms` moves only on a
 * successful tick: written > 0, or nothing to budget.
 */
@Injectable()
export class BudgetStatusRepository {
  constructor(
    private readonly config: AppConfig,
    private readonly redis: BudgetRedis,
  ) {}

  /** Outlives 3 intervals, so a follower sees the status age rather than its absence. */
  get ttlSec(): number {
    return Math.max(this.config.BUDGET_HASH_TTL_SEC, Math.ceil(4 * this.config.BUDGET_COMPUTE_INTERVAL_SEC));
  }

  static succeeded(symbols: number, written: number): boolean {
    return written > 0 || symbols === 0;
  }

  commands(nowMs: number, symbols: number, written: number): Command[] {
    const at = Math.floor(nowMs);
    const hset: Command = ['hset', Keys.budgetStatus, 'tick_ms', at, 'symbols', symbols, 'written', written];
    if (BudgetStatusRepository.succeeded(symbols, written)) hset.push('last_success_ms', at);
    return [hset, ['expire', Keys.budgetStatus, this.ttlSec]];
  }

  /** The leader's last success as of `nowMs`; refused when it lies in the future. */
  async read(nowMs: number): Promise<BudgetStatus> {
    const [[err, value]] = await this.redis.session().exec([['hmget', Keys.budgetStatus, ...FIELDS]]);
    if (err) throw err;
    if (!Array.isArray(value)) return { ok: false, why: 'garbage' };
    return BudgetStatusRepository.judge(value as unknown[], nowMs);
  }

  static judge(value: readonly unknown[], nowMs: number): BudgetStatus {
    const at = parseNumber(value[0], 'positive');
    if (!at.ok) return { ok: false, why: at.why === 'missing' ? 'absent' : 'garbage' };
    if (at.n > nowMs + FUTURE_TOLERANCE_SEC * 1000) return { ok: false, why: 'future' };
    const symbols = parseNumber(value[1], 'nonNegative');
    const written = parseNumber(value[2], 'nonNegative');
    if (!symbols.ok || !written.ok) return { ok: false, why: 'garbage' };
    // a status without tick_ms comes from a leader that set last_success_ms on every tick
    const hasTick = parseNumber(value[3], 'positive').ok;
    if (!hasTick && !BudgetStatusRepository.succeeded(symbols.n, written.n))
      return { ok: false, why: 'not_written' };
    return { ok: true, lastSuccessMs: at.n, symbols: symbols.n, written: written.n };
  }
}
