/**
 * Circuit breaker in front of the gate's Redis read. After `threshold` consecutive failed reads
 * (timeouts or errors) it opens: decisions fail open at once, with the reason of the last failure,
 * instead of each one waiting out GATE_TIMEOUT_MS against a Redis that is known to be frozen. Every
 * `openMs` one probe read is let through (half-open); its success closes the breaker.
 * Pure: the caller passes monotonic time.
 */
export class ReadBreaker<R extends string = string> {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private reason?: R;

  constructor(
    private readonly threshold = 3,
    private readonly openMs = 250,
  ) {}

  get isOpen(): boolean {
    return this.failures >= this.threshold;
  }

  /** The reason to answer with while open (the last failure's). */
  get lastReason(): R | undefined {
    return this.reason;
  }

  /** true: skip Redis and fail open now. false: read (possibly as the one half-open probe). */
  shouldSkip(nowMs: number): boolean {
    if (this.failures < this.threshold) return false;
    if (nowMs < this.openUntil || this.probing) return true;
    this.probing = true;
    return false;
  }

  /** @returns true when this success closed an open breaker. */
  success(): boolean {
    const wasOpen = this.isOpen;
    this.failures = 0;
    this.probing = false;
    return wasOpen;
  }

  /** @returns true when this failure opened a closed breaker. */
  failure(nowMs: number, reason: R): boolean {
    const wasOpen = this.isOpen;
    this.failures += 1;
    this.probing = false;
    this.reason = reason;
    if (this.isOpen) this.openUntil = nowMs + this.openMs;
    return !wasOpen && this.isOpen;
  }
}
