/**
 * At most one log line per key per interval, so a Redis outage that fails every plan open writes a
 * line every 10 s (with how many were held back) instead of one per request. Metrics keep the
 * exact counts; the log only has to say that it is happening. Keys are fixed strings of the code,
 * never request data: they become the `kind` label of p28_log_suppressed_total (`onSuppressed`).
 */
export class LogRateLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
    private readonly onSuppressed?: (key: string) => void,
  ) {}

  /** The number of lines held back since the last one when a line may be written now, else undefined. */
  take(key: string): number | undefined {
    const t = this.now();
    const slot = this.last.get(key);
    if (!slot) {
      this.last.set(key, { at: t, suppressed: 0 });
      return 0;
    }
    if (t - slot.at >= this.intervalMs) {
      const held = slot.suppressed;
      slot.at = t;
      slot.suppressed = 0;
      return held;
    }
    slot.suppressed++;
    this.onSuppressed?.(key);
    return undefined;
  }
}
