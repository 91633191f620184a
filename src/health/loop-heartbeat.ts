import { Injectable } from '@nestjs/common';

/**
 * The budget loop reports here after every tick (leader or follower), so readiness can tell a
 * loop that stopped from one that is merely not leading; and it reports the last *successful*
 * budget write (the leader's own, or the leader's as a follower read it from Redis), so readiness
 * and /health can tell a loop that runs from one that enforces (CONTRACT.md §5).
 */
@Injectable()
export class LoopHeartbeat {
  private lastMs?: number;
  private successMs?: number;
  private intervalMs?: number;

  /** Called once by the scheduler when it starts. */
  register(intervalMs: number) {
    this.intervalMs = intervalMs;
  }
  beat(nowMs: number) {
    this.lastMs = nowMs;
  }
  /**
   * When budgets were last written successfully (or a tick found no symbol to budget). Never moves
   * backwards: a follower may read an older leader timestamp than one it already saw.
   */
  success(atMs: number) {
    if (this.successMs === undefined || atMs > this.successMs) this.successMs = atMs;
  }
  get registered(): boolean {
    return this.intervalMs !== undefined;
  }
  get lastBeatMs(): number | undefined {
    return this.lastMs;
  }
  get lastSuccessMs(): number | undefined {
    return this.successMs;
  }
  /** Fresh when the loop ran within three intervals. */
  isFresh(nowMs: number): boolean {
    if (this.intervalMs === undefined) return true;
    return this.lastMs !== undefined && nowMs - this.lastMs <= 3 * this.intervalMs;
  }
  /** Budgets were written successfully within three intervals (not merely attempted). */
  isEnforcing(nowMs: number): boolean {
    if (this.intervalMs === undefined) return true;
    return this.successMs !== undefined && nowMs - this.successMs <= 3 * this.intervalMs;
  }
  ageMs(nowMs: number): number | undefined {
    return this.lastMs === undefined ? undefined : nowMs - this.lastMs;
  }
  successAgeMs(nowMs: number): number | undefined {
    return this.successMs === undefined ? undefined : Math.max(0, nowMs - this.successMs);
  }
}
