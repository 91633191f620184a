import { Injectable } from '@nestjs/common';
import { BusyError } from '../core/errors.js';
import { Keys } from '../platform/redis/keys.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { decisionPrefilter, parseDecision, type LoggedDecision } from './decision-entry.js';

/** Stream entries per XRANGE / XREVRANGE call: a page, never the window. */
const DECISION_PAGE = 1000;
/** A lookup walks at most this many entries (the length cap), so one request stays bounded. */
const LOOKUP_MAX = 200_000;

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
    const release = this.startWalk();
    try {
      return await this.walk(q);
    } finally {
      release();
    }
  }

  private async walk(q: DecisionQuery): Promise<LoggedDecision[]> {
    const pre = decisionPrefilter(q);
    const out: LoggedDecision[] = [];
    let end = '+';
    const start = q.sinceMs ? String(q.sinceMs) : '-';
    for (let seen = 0; seen < LOOKUP_MAX;) {
      const rows = (await this.redis.client.xrevrange(
        Keys.decisions,
        end,
        start,
        'COUNT',
        DECISION_PAGE,
      )) as Rows;
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
      seen += rows.length;
      if (rows.length < DECISION_PAGE) break;
      end = `(${rows[rows.length - 1][0]}`;
    }
    return out;
  }

  /**
   * Oldest first, one page at a time, between two stream ids (inclusive; `-`/`+` for open ends).
   * The next page is asked for before the current one is handed over, so Redis serialises it while
   * the caller works: at most two pages are held.
   */
  async *pages(from: string, to: string): AsyncGenerator<Rows> {
    const page = (start: string) =>
      this.redis.client.xrange(Keys.decisions, start, to, 'COUNT', DECISION_PAGE) as Promise<Rows>;
    const release = this.startWalk();
    try {
      let next = page(from);
      for (;;) {
        const rows = await next;
        const full = rows.length === DECISION_PAGE;
        if (full) {
          next = page(`(${rows[rows.length - 1][0]}`);
          // a caller that stops early leaves it unread: its failure must not be an unhandled rejection
          next.catch(() => undefined);
        }
        if (rows.length > 0) yield rows;
        if (!full) return;
      }
    } finally {
      release();
    }
  }
}
