import { parseUint } from '../../core/numbers.js';
import { Injectable } from '@nestjs/common';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { fromStreamFields } from '../../core/ledger/ledger-entry.js';
import { isWrongType } from '../../platform/redis/redis-errors.js';

export interface StoredEntry {
  stream_id: string;
  /** decoded fields; a well-formed entry is a LedgerEntry, a tampered one may not be */
  entry: Record<string, unknown>;
}

type StreamRows = Array<[string, string[]]>;

const PAGE = 500;

const decode = (rows: StreamRows): StoredEntry[] =>
  rows.map(([stream_id, fields]) => ({ stream_id, entry: fromStreamFields(fields) }));

/** Reads of the ledger stream. Entries are only ever written by the mode scripts. */
@Injectable()
export class LedgerRepository {
  constructor(private readonly redis: RedisService) {}

  /** Every entry, oldest first, read in pages so one reply stays small. */
  async all(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    let start = '-';
    for (;;) {
      const rows = (await this.redis.client.xrange(Keys.ledger, start, '+', 'COUNT', PAGE)) as StreamRows;
      out.push(...decode(rows));
      if (rows.length < PAGE) return out;
      start = `(${rows[rows.length - 1][0]}`;
    }
  }

  /** Every entry plus the mode hash's version and last operation id, read together so they agree. */
  async allWithLastOperation(): Promise<{
    entries: StoredEntry[];
    lastOperationId?: string;
    version: number;
  }> {
    const res = await this.redis.client
      .multi()
      .xrange(Keys.ledger, '-', '+')
      .hmget(Keys.mode, 'operation_id', 'version')
      .exec();
    if (!res) throw new Error('redis transaction aborted');
    if (res[0][0]) throw res[0][0];
    // a mode key of another type (another service wrote it) gives no tail to check; the chain is still checked
    if (res[1][0] && !isWrongType(res[1][0])) throw res[1][0];
    const rows = res[0][1] as StreamRows;
    const [op, version] = res[1][0] ? [null, null] : (res[1][1] as Array<string | null>);
    return {
      entries: decode(rows),
      ...(op ? { lastOperationId: op } : {}),
      version: parseUint(version) ?? 0,
    };
  }

  /** Newest first, strictly before `beforeStreamId` when given. */
  async newest(limit: number, beforeStreamId?: string): Promise<StoredEntry[]> {
    const end = beforeStreamId ? `(${beforeStreamId}` : '+';
    return decode((await this.redis.client.xrevrange(Keys.ledger, end, '-', 'COUNT', limit)) as StreamRows);
  }

  /** Newest-first scan until `match` holds; the ledger is small (one entry per operator action). */
  async findNewest(match: (e: Record<string, unknown>) => boolean): Promise<StoredEntry | undefined> {
    let end = '+';
    for (;;) {
      const rows = (await this.redis.client.xrevrange(Keys.ledger, end, '-', 'COUNT', PAGE)) as StreamRows;
      const hit = decode(rows).find((r) => match(r.entry));
      if (hit || rows.length < PAGE) return hit;
      end = `(${rows[rows.length - 1][0]}`;
    }
  }
}
