import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/index.js';
import { Keys } from '../redis/keys.js';
import type { Command } from './batch.js';
import { BudgetRedis } from './budget-redis.js';
import { parseNumber } from './inputs/reading.js';

const FIELDS = ['last_success_ms', 'symbols', 'written'] as const;

export interface BudgetStatus {
  lastSuccessMs: number;
  symbols: number;
}

/**
 * The leader's last successful budget write, shared through Redis so that a follower (which
 * computes nothing) can judge readiness by what is actually enforced (CONTRACT.md §5).
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

  commands(nowMs: number, symbols: number, written: number): Command[] {
    return [
      ['hset', Keys.budgetStatus, FIELDS[0], Math.floor(nowMs), FIELDS[1], symbols, FIELDS[2], written],
      ['expire', Keys.budgetStatus, this.ttlSec],
    ];
  }

  /** The leader's status, or undefined when absent or unreadable. */
  async read(): Promise<BudgetStatus | undefined> {
    const [[err, value]] = await this.redis.session().exec([['hmget', Keys.budgetStatus, ...FIELDS]]);
    if (err || !Array.isArray(value)) return undefined;
    const at = parseNumber(value[0], 'positive');
    const symbols = parseNumber(value[1], 'nonNegative');
    if (!at.ok) return undefined;
    return { lastSuccessMs: at.n, symbols: symbols.ok ? symbols.n : 0 };
  }
}
