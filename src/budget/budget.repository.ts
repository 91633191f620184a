import { streamPairs } from '../core/stream-fields.js';
import { isWrongType } from '../platform/redis/redis-errors.js';
import { Injectable } from '@nestjs/common';
import { AppConfig, type Mode } from '../platform/config/index.js';
import { Keys, symbolFromKey } from '../platform/redis/keys.js';
import type { Command, RedisSession } from '../platform/redis/batch.js';
import { roundTo } from '../core/budget-calculator.js';

/** One symbol's budget as written to `quantum:portfolio:budget:{SYMBOL}` (docs/contract.md §2 Budget engine). */
export interface BudgetRecord {
  symbol: string;
  budget_usd: number;
  stress_factor: number;
  equity_usd: number;
  portfolio_heat: number;
  cluster_stress: number;
  vol_regime: number;
  /** `unknown` when the mode lookup answered something that is not a mode. */
  mode: Mode | 'unknown';
  timestamp: number;
  base_risk_pct: number;
  position_notional: number;
  utilization: number;
  /**
   * The symbol's reference price (the position's, else the live market state's), so the gate can
   * price a first entry's quantity; written as '' when none is known.
   */
  price?: number | null;
  /** the risk policy's version the budget was computed with (docs/contract.md §7) */
  policy_version?: number;
}

/** The `json` of a `quantum:stream:budget.violation` entry, the shape existing consumers parse. */
export interface ViolationEvent {
  event_type: 'budget.violation';
  symbol: string;
  position_notional: number;
  budget_usd: number;
  over_budget: number;
  mode: Mode | 'unknown';
  timestamp: number;
}

const RATIO_DECIMALS = 6;
const USD_DECIMALS = 2;
const DECIMALS: Record<string, number> = {
  budget_usd: USD_DECIMALS,
  equity_usd: USD_DECIMALS,
  position_notional: USD_DECIMALS,
  over_budget: USD_DECIMALS,
  stress_factor: RATIO_DECIMALS,
  portfolio_heat: RATIO_DECIMALS,
  cluster_stress: RATIO_DECIMALS,
  vol_regime: RATIO_DECIMALS,
  utilization: RATIO_DECIMALS,
};

export class NonFiniteValueError extends Error {}

/**
 * Field/value pairs for HSET. The last line of defence of "never a NaN written anywhere": a
 * non-finite number throws instead of becoming the string "NaN".
 */
export function toFields(record: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new NonFiniteValueError(`${k} is not finite (${v})`);
      const d = DECIMALS[k];
      out.push(k, String(d === undefined ? v : roundTo(v, d)));
    } else if (v === null) {
      out.push(k, '');
    } else {
      out.push(k, String(v));
    }
  }
  return out;
}

/** The budget hash's fields in the order they are written (docs/contract.md §2 Budget engine). */
export const BUDGET_FIELDS = [
  'symbol',
  'budget_usd',
  'stress_factor',
  'equity_usd',
  'portfolio_heat',
  'cluster_stress',
  'vol_regime',
  'mode',
  'timestamp',
  'base_risk_pct',
  'position_notional',
  'utilization',
  'price',
  'policy_version',
] as const satisfies ReadonlyArray<keyof BudgetRecord>;

const num = (field: string, v: number, decimals?: number): string => {
  if (!Number.isFinite(v)) throw new NonFiniteValueError(`${field} is not finite (${v})`);
  return String(decimals === undefined ? v : roundTo(v, decimals));
};

const str = (field: string, v: unknown): string => {
  if (typeof v !== 'string') throw new TypeError(`${field} is not a string (${typeof v})`);
  return v;
};

/**
 * A budget's values in BUDGET_FIELDS order, serialised as `toFields` does (same rounding, same
 * refusal of non-finite numbers) without building the field/value pairs: the engine writes
 * thousands of these per tick.
 */
export function budgetValues(r: BudgetRecord): string[] {
  return [
    str('symbol', r.symbol),
    num('budget_usd', r.budget_usd, USD_DECIMALS),
    num('stress_factor', r.stress_factor, RATIO_DECIMALS),
    num('equity_usd', r.equity_usd, USD_DECIMALS),
    num('portfolio_heat', r.portfolio_heat, RATIO_DECIMALS),
    num('cluster_stress', r.cluster_stress, RATIO_DECIMALS),
    num('vol_regime', r.vol_regime, RATIO_DECIMALS),
    str('mode', r.mode),
    num('timestamp', r.timestamp),
    num('base_risk_pct', r.base_risk_pct),
    num('position_notional', r.position_notional, USD_DECIMALS),
    num('utilization', r.utilization, RATIO_DECIMALS),
    r.price === null || r.price === undefined ? '' : num('price', r.price),
    r.policy_version === undefined ? '' : num('policy_version', r.policy_version),
  ];
}

const NUMERIC = new Set(
  Object.keys(DECIMALS).concat(['timestamp', 'base_risk_pct', 'price', 'policy_version']),
);

/** Budget hash as read back: numeric fields as numbers (unparsable ones dropped, never NaN). */
export function parseBudgetHash(hash: Record<string, string>): Record<string, string | number> {
  // field names are data: a field called __proto__ must be a field, not a prototype
  const out: Record<string, string | number> = Object.create(null) as Record<string, string | number>;
  for (const [k, v] of Object.entries(hash)) {
    if (!NUMERIC.has(k)) out[k] = v;
    else if (Number.isFinite(Number(v)) && v.trim() !== '') out[k] = Number(v);
  }
  return out;
}

/** Writes of the budget engine and reads of the budget API (docs/contract.md §2 Budget engine). */
@Injectable()
export class BudgetRepository {
  constructor(private readonly config: AppConfig) {}

  get budgetTtlSec(): number {
    return this.config.BUDGET_HASH_TTL_SEC;
  }

  /** The budget write as plain commands (the engine batches the same fields via `budgetValues`). */
  budgetCommands(record: BudgetRecord): Command[] {
    const key = Keys.budget(record.symbol);
    const values = budgetValues(record);
    const hset: Command = ['hset', key];
    BUDGET_FIELDS.forEach((f, i) => hset.push(f, values[i]));
    return [hset, ['expire', key, this.config.BUDGET_HASH_TTL_SEC]];
  }

  violationCommands(event: ViolationEvent): Command[] {
    const fields = toFields(event);
    const json = JSON.stringify(
      Object.fromEntries(streamPairs(fields).map(([k, v]) => [k, jsonValue(k, v)])),
    );
    const key = Keys.violation(event.symbol);
    return [
      [
        'xadd',
        Keys.violationStream,
        'MAXLEN',
        '~',
        this.config.VIOLATION_STREAM_MAXLEN,
        '*',
        'json',
        json,
        'symbol',
        event.symbol,
      ],
      ['hset', key, ...fields],
      ['expire', key, this.config.VIOLATION_HASH_TTL_SEC],
    ];
  }

  async list(session: RedisSession): Promise<Array<Record<string, string | number>>> {
    const keys = (await session.scan(Keys.budgetPattern)).sort();
    const replies = await session.exec(keys.map((k) => ['hgetall', k]));
    const out: Array<Record<string, string | number>> = [];
    replies.forEach(([err, hash], i) => {
      if (err || !hash || Object.keys(hash).length === 0) return; // expired between SCAN and read
      const parsed = parseBudgetHash(hash as Record<string, string>);
      parsed.symbol ??= symbolFromKey(keys[i], Keys.budgetPattern) ?? keys[i];
      out.push(parsed);
    });
    return out;
  }

  async get(session: RedisSession, symbol: string): Promise<Record<string, string | number> | undefined> {
    const [[err, hash]] = await session.exec([['hgetall', Keys.budget(symbol)]]);
    // a key of another type (another service's junk) holds no budget; other errors are Redis's
    if (isWrongType(err)) return undefined;
    if (err) throw err;
    if (!hash || Object.keys(hash).length === 0) return undefined;
    return parseBudgetHash(hash as Record<string, string>);
  }
}

const jsonValue = (k: string, v: string): string | number => (NUMERIC.has(k) ? Number(v) : v);
