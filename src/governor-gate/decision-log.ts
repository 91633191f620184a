import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { settledWithin } from '../platform/clock/bounded.js';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { Metrics } from '../platform/observability/metrics.js';
import { Keys } from '../platform/redis/keys.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { runScript } from '../platform/redis/scripts.js';

/**
 * Appends a batch: KEYS[1] the stream; ARGV 1 MAXLEN (approximate), 2 MINID for the age cap (0: not
 * this time), 3… the batch: one argument per decision, the JSON array of its values
 * (DECISION_FIELDS order). One field an entry: each field is work for Redis and for every replay
 * read. An argument per decision rather than one joined argument split in Lua: the split cost
 * Redis more than the arguments do (bench/RESULTS.md). The length is trimmed after the batch rather
 * than per entry. One XTRIM ~ removes at most Redis's default LIMIT (10,000 entries), so a log far
 * over its cap comes back over a few batches: at most TRIMS_PER_BATCH calls each, which keeps the
 * script short (the gate reads the same Redis).
 */
const TRIMS_PER_BATCH = 4;
const APPEND_LUA = `
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
end
for _ = 1, ${TRIMS_PER_BATCH} do
  if redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1]) == 0 then break end
end
if ARGV[2] ~= '0' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2]) end
return #ARGV - 2
`;
const APPEND = { name: 'p28DecisionAppend', lua: APPEND_LUA };

/** A batch goes out this often, or as soon as it holds BATCH_MAX entries. */
const FLUSH_MS = 5;
const BATCH_MAX = 256;
/** Entries waiting while Redis is slow or down; past it new ones are counted as failed, not held. */
const PENDING_MAX = 20_000;
/** The age cap is applied by one XTRIM MINID at most this often. */
const AGE_TRIM_EVERY_MS = 1000;
const STOP_FLUSH_MS = 1000;

/**
 * Appends decisions to `quantum:p28:decisions` off the hot path (docs/contract.md §7): the gate
 * hands over one JSON line and returns; one pipelined write per batch follows. A failed write never
 * reaches an answer: it is counted in `p28_decision_log_fail_total` and logged once per interval.
 */
@Injectable()
export class DecisionLog implements OnApplicationShutdown {
  private readonly logger = new Logger('DecisionLog');
  /** JSON lines (decisionLine), oldest first */
  private pending: string[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private lastTrimMs = 0;
  private lastWarnMs = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  /** `line`: one decision as decisionLine writes it (one line of JSON). */
  append(line: string): void {
    if (this.pending.length >= PENDING_MAX) {
      this.metrics.decisionLogFail.inc();
      return;
    }
    this.pending.push(line);
    if (this.pending.length >= BATCH_MAX) this.flushSoon(0);
    else this.flushSoon(FLUSH_MS);
  }

  /** Writes what is pending now (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight) {
      if (this.inFlight) await this.inFlight;
      else await this.write();
    }
  }

  async onApplicationShutdown() {
    clearTimeout(this.timer);
    await settledWithin(
      this.flush().catch(() => undefined),
      STOP_FLUSH_MS,
    );
  }

  private flushSoon(ms: number) {
    if (this.inFlight) return; // the write in flight schedules the next one
    if (this.timer && ms > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.write(), ms);
    this.timer.unref();
  }

  private write(): Promise<void> {
    this.timer = undefined;
    if (this.inFlight || this.pending.length === 0) return this.inFlight ?? Promise.resolve();
    const batch = this.pending.splice(0, BATCH_MAX);
    const now = this.clock.nowMs();
    const minId =
      now - this.lastTrimMs >= AGE_TRIM_EVERY_MS ? now - this.config.DECISION_LOG_MAX_AGE_SEC * 1000 : 0;
    if (minId > 0) this.lastTrimMs = now;
    const p = runScript<number>(
      this.redis.client,
      APPEND,
      1,
      Keys.decisions,
      this.config.DECISION_LOG_MAXLEN,
      minId,
      ...batch,
    );
    this.inFlight = p
      .then(() => undefined)
      .catch((err: Error) => this.failed(batch.length, err.message))
      .finally(() => {
        this.inFlight = undefined;
        if (this.pending.length > 0) this.flushSoon(this.pending.length >= BATCH_MAX ? 0 : FLUSH_MS);
      });
    return this.inFlight;
  }

  private failed(n: number, error: string) {
    this.metrics.decisionLogFail.inc(n);
    const now = this.clock.nowMs();
    if (now - this.lastWarnMs >= 10_000) {
      this.lastWarnMs = now;
      this.logger.warn({ msg: 'decision log write failed; the decisions stand', lost: n, error });
    }
  }
}
