import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../platform/config/index.js';
import { parsePosition, POSITION_FIELDS, positionHashFromList } from '../../core/position.js';
import type { Batch, Reply, RedisSession } from '../../platform/redis/batch.js';
import { roundTo } from '../../core/budget-calculator.js';
import { type StaleInputs } from './reading.js';
import { symbolOfKey } from './symbols.js';

export interface Position {
  symbol: string;
  /** Signed: long > 0, short < 0 (by `side` when the amount is unsigned). */
  amount: number;
  side: string;
  price: number;
  notional: number;
  /** The key the position was taken from. */
  key: string;
}

/**
 * Positions under every POSITION_KEY_PATTERNS pattern (current and legacy), found with SCAN.
 * When a symbol has keys under several patterns, the first pattern (config order: current before
 * legacy) that holds a usable position wins: the legacy snapshot is only a fallback.
 */
@Injectable()
export class PositionReader {
  constructor(private readonly config: AppConfig) {}

  /** symbol → its keys, in pattern order; keys whose symbol part breaks the symbol rule are counted. */
  async discover(session: RedisSession, stale: StaleInputs): Promise<Map<string, string[]>> {
    const patterns = this.config.POSITION_KEY_PATTERNS;
    const perPattern = await Promise.all(patterns.map((p) => session.scan(p)));
    const bySymbol = new Map<string, string[]>();
    perPattern.forEach((keys, i) => {
      for (const key of keys) {
        const symbol = symbolOfKey(key, patterns[i], stale);
        if (!symbol) continue;
        const list = bySymbol.get(symbol) ?? [];
        list.push(key);
        bySymbol.set(symbol, list);
      }
    });
    return bySymbol;
  }

  /**
   * Reads every discovered key; the answer per symbol is its position, `flat` (no key, zero or
   * FLAT: a real answer) or `garbage` (no key held a usable position; counted).
   */
  plan(
    plan: Batch,
    bySymbol: Map<string, string[]>,
    /** filled with the price of a flat key, when it carries one (the budget's reference price) */
    flatPrices?: Map<string, number>,
  ): (symbol: string, stale: StaleInputs) => Position | 'flat' | 'garbage' {
    const replies = new Map<string, Array<{ key: string; reply: () => Reply }>>();
    for (const [symbol, keys] of bySymbol) {
      replies.set(
        symbol,
        keys.map((key) => ({ key, reply: plan.hmget(key, POSITION_FIELDS) })),
      );
    }
    return (symbol, stale) => {
      let garbage = false;
      for (const { key, reply } of replies.get(symbol) ?? []) {
        const [err, value] = reply();
        if (err) {
          stale.add('position', `${symbol}: ${err.message}`);
          garbage = true;
          continue;
        }
        const parsed = PositionReader.parse(symbol, key, value as Array<string | null>);
        if (parsed.kind === 'garbage') {
          stale.add('position', `${symbol}: ${parsed.why}`);
          garbage = true;
        }
        if (parsed.kind === 'garbage' || parsed.kind === 'gone') continue;
        if (parsed.kind === 'inactive' && parsed.price !== undefined) flatPrices?.set(symbol, parsed.price);
        return parsed.kind === 'active' ? parsed.position : 'flat';
      }
      return garbage ? 'garbage' : 'flat';
    };
  }

  /**
   * The position of one key, by the one position rule (core/position.ts, docs/contract.md §1 Inputs), from
   * HMGET values in POSITION_FIELDS order. `inactive`: zero amount or FLAT (a real answer: the
   * symbol has no position). `gone`: the key vanished between SCAN and read. `garbage`: present
   * but unusable, including an active position without a usable price.
   */
  static parse(
    symbol: string,
    key: string,
    fields: ReadonlyArray<string | null>,
  ):
    | { kind: 'active'; position: Position }
    | { kind: 'inactive'; price: number | undefined }
    | { kind: 'gone' }
    | { kind: 'garbage'; why: string } {
    const parsed = parsePosition(positionHashFromList(fields));
    switch (parsed.kind) {
      case 'gone':
        return { kind: 'gone' };
      case 'inactive':
        return { kind: 'inactive', price: parsed.price };
      case 'garbage':
        return { kind: 'garbage', why: parsed.why };
    }
    const { amount, side, price } = parsed;
    if (price === undefined)
      return { kind: 'garbage', why: 'no usable mark_price, current_price or entry_price' };
    const notional = roundTo(Math.abs(amount) * price, 2);
    if (!Number.isFinite(notional)) return { kind: 'garbage', why: 'notional overflow' };
    return { kind: 'active', position: { symbol, amount, side, price, notional, key } };
  }
}
