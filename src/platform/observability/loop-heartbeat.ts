import { Injectable } from '@nestjs/common';

/**
 * The budget loop reports here after every tick (leader or follower), so readiness can tell a
 * loop that stopped from one that is merely not leading; and it reports the last *successful*
 * budget write, so readiness and /health can tell a loop that runs from one that enforces
 * (docs/contract.md §5). A leader is judged by its own writes, a follower by the leader's status
 * as read from Redis: the two views are kept apart, and the leader's is dropped whenever this
 * replica's role changes, so a takeover never inherits what the old leader (or a forged status)
 * claimed.
 */
@Injectable()
export class LoopHeartbeat {
  private lastMs?: number;
  private ownSuccessMs?: number;
  private leaderSuccessMs?: number;
  private leading = false;
  private intervalMs?: number;
  private windowMs?: number;

  /**
   * Called once by the scheduler when it starts. `windowMs`: how old the last successful write may
   * be while budgets still count as enforced (3 intervals unless the gate trusts a budget for less).
   */
  register(intervalMs: number, windowMs = 3 * intervalMs) {
    this.intervalMs = intervalMs;
    this.windowMs = Math.min(windowMs, 3 * intervalMs);
  }
  beat(nowMs: number) {
    this.lastMs = nowMs;
  }
  /** This replica's role for the tick that just ran; a change drops the leader's view. */
  role(leading: boolean) {
    if (leading !== this.leading) this.leaderSuccessMs = undefined;
    this.leading = leading;
  }
  /**
   * This replica wrote budgets successfully (or found no symbol to budget). Never moves backwards.
   */
  success(atMs: number) {
    if (this.ownSuccessMs === undefined || atMs > this.ownSuccessMs) this.ownSuccessMs = atMs;
  }
  /**
   * The leader's last successful write, as a follower read it. Never moves backwards: a follower
   * may read an older leader timestamp than one it already saw.
   */
  leaderSuccess(atMs: number) {
    if (this.leaderSuccessMs === undefined || atMs > this.leaderSuccessMs) this.leaderSuccessMs = atMs;
  }
  get registered(): boolean {
    return this.intervalMs !== undefined;
  }
  get lastBeatMs(): number | undefined {
    return this.lastMs;
  }
  get lastSuccessMs(): number | undefined {
    return this.leading ? this.ownSuccessMs : this.leaderSuccessMs;
  }
  /** How old the last successful write may be (ms) while budgets count as enforced. */
  get enforceWindowMs(): number | undefined {
    return this.windowMs;
  }
  /** Fresh when the loop ran within three intervals. */
  isFresh(nowMs: number): boolean {
    if (this.intervalMs === undefined) return true;
    return this.lastMs !== undefined && nowMs - this.lastMs <= 3 * this.intervalMs;
  }
  /** Budgets were written successfully within the window (not merely attempted). */
  isEnforcing(nowMs: number): boolean {
    if (this.windowMs === undefined) return true;
    const at = this.lastSuccessMs;
    return at !== undefined && nowMs - at <= this.windowMs;
  }
  ageMs(nowMs: number): number | undefined {
    return this.lastMs === undefined ? undefined : nowMs - this.lastMs;
  }
  successAgeMs(nowMs: number): number | undefined {
    const at = this.lastSuccessMs;
    return at === undefined ? undefined : Math.max(0, nowMs - at);
  }
}
