import { Injectable } from '@nestjs/common';

/**
 * The budget loop reports here after every tick (leader or follower), so readiness can tell a
 * loop that stopped from one that is merely not leading.
 */
@Injectable()
export class LoopHeartbeat {
  private lastMs?: number;
  private intervalMs?: number;

  /** Called once by the scheduler when it starts. */
  register(intervalMs: number) {
    this.intervalMs = intervalMs;
  }
  beat(nowMs: number) {
    this.lastMs = nowMs;
  }
  get registered(): boolean {
    return this.intervalMs !== undefined;
  }
  get lastBeatMs(): number | undefined {
    return this.lastMs;
  }
  /** Fresh when the loop ran within three intervals. */
  isFresh(nowMs: number): boolean {
    if (this.intervalMs === undefined) return true;
    return this.lastMs !== undefined && nowMs - this.lastMs <= 3 * this.intervalMs;
  }
  ageMs(nowMs: number): number | undefined {
    return this.lastMs === undefined ? undefined : nowMs - this.lastMs;
  }
}
