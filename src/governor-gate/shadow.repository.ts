import { streamFieldMap } from '../core/stream-fields.js';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../platform/config/index.js';
import { Keys } from '../platform/redis/keys.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { finite } from './gate-evaluator.js';
import type { WouldBlock } from './gate.types.js';
import { MAX_RECORDED_NOTIONAL_USD, type ShadowRecord } from './shadow-report.js';

const PAGE = 1000;
/** The stream is capped at SHADOW_STREAM_MAXLEN (~10k by default); this bounds a report's scan anyway. */
const SHADOW_SCAN_CAP = 100_000;

/** The shadow would-block stream: appended by the gate, read by the shadow report. */
@Injectable()
export class ShadowRepository {
  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  async record(symbol: string, planId: string, w: WouldBlock, timeSec: number): Promise<void> {
    const fields = ['symbol', symbol, 'plan_id', planId, 'reason', w.reason, 'budget', String(w.budget_usd)];
    if (w.notional !== undefined && Number.isFinite(w.notional)) {
      fields.push('notional', String(Math.min(w.notional, MAX_RECORDED_NOTIONAL_USD)));
    }
    fields.push('time', String(timeSec));
    await this.redis.client.xadd(
      Keys.shadowWouldBlock,
      'MAXLEN',
      '~',
      this.config.SHADOW_STREAM_MAXLEN,
      '*',
      ...fields,
    );
  }

  /** Records whose stream id (Redis time) is at or after `sinceSec`, oldest first, up to the scan cap. */
  async since(sinceSec: number): Promise<{ records: ShadowRecord[]; truncated: boolean }> {
    const records: ShadowRecord[] = [];
    let start = `${Math.floor(sinceSec * 1000)}-0`;
    let scanned = 0;
    for (;;) {
      const page = await this.redis.client.xrange(Keys.shadowWouldBlock, start, '+', 'COUNT', PAGE);
      for (const [, flat] of page) {
        // another writer may have put anything in the stream: a Map, not an object, takes its fields
        const f = streamFieldMap(flat);
        const symbol = f.get('symbol');
        if (!symbol) continue;
        records.push({
          symbol,
          plan_id: f.get('plan_id'),
          notional: finite(f.get('notional')),
          budget: finite(f.get('budget')),
          time: finite(f.get('time')),
        });
      }
      scanned += page.length;
      if (page.length < PAGE) return { records, truncated: false };
      if (scanned >= SHADOW_SCAN_CAP) return { records, truncated: true };
      start = `(${page[page.length - 1][0]}`;
    }
  }
}
