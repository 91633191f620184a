import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/index.js';
import type { Batch, Reply, RedisSession } from '../batch.js';
import { roundTo } from '../budget.calculator.js';
import { parseNumber, type StaleInputs } from './reading.js';
import { symbolOfKey } from './symbols.js';

export interface Position {
  symbol: string;
  /** Signed as stored (shorts may be negative). */
  amount: number;
  side: string;
  price: number;
  notional: number;
  /** The key the position was taken from. */
  key: string;
}

const isNull = (f: unknown) => f === null;

const FIELDS: readonly string[] = ['position_amt', 'side', 'mark_price', 'current_price', 'entry_price'];

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

  plan(
    plan: Batch,
    bySymbol: Map<string, string[]>,
  ): (symbol: string, stale: StaleInputs) => Position | undefined {
    const replies = new Map<string, Array<{ key: string; reply: () => Reply }>>();
    for (const [symbol, keys] of bySymbol) {
      replies.set(
        symbol,
        keys.map((key) => ({ key, reply: plan.hmget(key, FIELDS) })),
      );
    }
    return (symbol, stale) => {
      for (const { key, reply } of replies.get(symbol) ?? []) {
        const [err, value] = reply();
        if (err) {
          stale.add('position', `${symbol}: ${err.message}`);
          continue;
        }
        const parsed = PositionReader.parse(symbol, key, value as Array<string | null>);
        if (parsed.kind === 'garbage') stale.add('position', `${symbol}: ${parsed.why}`);
        if (parsed.kind === 'garbage' || parsed.kind === 'gone') continue;
        return parsed.kind === 'active' ? parsed.position : undefined;
      }
      return undefined;
    };
  }

  /**
   * `inactive`: zero amount or FLAT (a real answer: the symbol has no position). `gone`: the key
   * vanished between SCAN and read. `garbage`: present but unusable.
   */
  static parse(
    symbol: string,
    key: string,
    fields: Array<string | null>,
  ):
    | { kind: 'active'; position: Position }
    | { kind: 'inactive' }
    | { kind: 'gone' }
    | { kind: 'garbage'; why: string } {
    if (fields.every(isNull)) return { kind: 'gone' };
    const amtRaw = fields[0];
    const sideRaw = fields[1];
    const side = (sideRaw ?? '').trim().toUpperCase();
    if (side === 'FLAT') return { kind: 'inactive' };
    const amt = parseNumber(amtRaw);
    if (!amt.ok) return { kind: 'garbage', why: `position_amt=${String(amtRaw)}` };
    if (amt.n === 0) return { kind: 'inactive' };
    // mark_price, then current_price, then entry_price: the first usable one
    for (let i = 2; i < fields.length; i++) {
      const p = parseNumber(fields[i], 'positive');
      if (p.ok) {
        const notional = roundTo(Math.abs(amt.n) * p.n, 2);
        if (!Number.isFinite(notional)) return { kind: 'garbage', why: 'notional overflow' };
        return { kind: 'active', position: { symbol, amount: amt.n, side, price: p.n, notional, key } };
      }
    }
    return { kind: 'garbage', why: `no usable price (mark_price=${String(fields[2])})` };
  }
}
