import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { BusyError } from '../core/errors.js';
import { Keys } from '../platform/redis/keys.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { decisionPrefilter, parseDecision, type LoggedDecision } from './decision-entry.js';

/** Stream entries per XRANGE / XREVRANGE call: a page, never the window. */
const DECISION_PAGE = 1000;
/** A lookup walks at most this many entries (the length cap), so one request stays bounded. */
const LOOKUP_MAX = 200_000;

/** Entries a caller works through between two turns of the event loop. */
const WALK_SLICE = 200;

/** Walks (lookups, replays) at once on this replica: each is up to the whole log of work. */
const WALKS_MAX = 2;

type Rows = Array<[string, string[]]>;

export interface DecisionQuery {
  plan_id?: string;
  symbol?: string;
  /** epoch ms; 0 or absent: the whole log */
  sinceMs?: number;
  limit: number;
}

/** Reads of the decision log (docs/contract.md §7), page by page. */
@Injectable()
export class DecisionLogReader {
  private walks = 0;

  constructor(private readonly redis: RedisService) {}

  /** Takes a walk slot or refuses: the gate answers on the same event loop. */
  private startWalk(): () => void {
    if (this.walks >= WALKS_MAX) {
      throw new BusyError(
        `${WALKS_MAX} walks of the decision log (replays, lookups) are already running on this replica; retry when they end`,
      );
    }
    this.walks++;
    let done = false;
    return () => {
      if (!done) this.walks--;
      done = true;
    };
  }

  /**
   * Newest first: entries since `sinceMs` with this plan id and symbol, at most `limit`. Entries
   * that cannot match are skipped unparsed: a lookup walks the whole log when the plan is not in it.
   */
  async find(q: DecisionQuery): Promise<LoggedDecision[]> {
    const pre = decisionPrefilter(q);
    const out: LoggedDecision[] = [];
    const start = q.sinceMs ? String(q.sinceMs) : '-';
    for await (const rows of this.walk('newest', start, '+', LOOKUP_MAX)) {
      for (const [, f] of rows) {
        if (pre && !pre(f)) continue;
        const d = parseDecision(f);
        if (
          (q.plan_id === undefined || d.plan_id === q.plan_id) &&
          (q.symbol === undefined || d.symbol === q.symbol)
        ) {
          out.push(d);
          if (out.length >= q.limit) return out;
        }
      }
    }
    return out;
  }

  /** Oldest first, between two stream ids (inclusive; `-`/`+` for open ends), in slices. */
  pages(from: string, to: string): AsyncGenerator<Rows> {
    return this.walk('oldest', from, to, Infinity);
  }

  /**
   * One walk: a slot for its whole length, pages from Redis, and slices of at most WALK_SLICE
   * entries with a turn of the event loop before each, so the gate's sockets and timers are served
   * while the caller works through a slice. The next page is asked for while the caller works: at
   * most two pages are held.
   */
  private async *walk(
    order: 'oldest' | 'newest',
    from: string,
    to: string,
    max: number,
  ): AsyncGenerator<Rows> {
    const release = this.startWalk();
    const client = this.redis.client;
    const page = (cursor: string) =>
      (order === 'oldest'
        ? client.xrange(Keys.decisions, cursor, to, 'COUNT', DECISION_PAGE)
        : client.xrevrange(Keys.decisions, cursor, from, 'COUNT', DECISION_PAGE)) as Promise<Rows>;
    try {
      let next = page(order === 'oldest' ? from : to);
      for (let seen = 0; ;) {
        const rows = await next;
        seen += rows.length;
        const full = rows.length === DECISION_PAGE && seen < max;
        if (full) {
          next = page(`(${rows[rows.length - 1][0]}`);
          // a caller that stops early leaves it unread: its failure must not be an unhandled rejection
          next.catch(() => undefined);
        }
        for (let i = 0; i < rows.length; i += WALK_SLICE) {
          await yieldToLoop();
          yield rows.slice(i, i + WALK_SLICE);
        }
        if (!full) return;
      }
    } finally {
      release();
    }
  }
}
