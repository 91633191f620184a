/** Time source. Services take it by injection so tests can move time instead of sleeping. */
export abstract class Clock {
  abstract nowMs(): number;
  /** Integer epoch seconds, the unit of every timestamp written to Redis. */
  nowSec(): number {
    return Math.floor(this.nowMs() / 1000);
  }
}

export class SystemClock extends Clock {
  nowMs(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to. */
export class ManualClock extends Clock {
  constructor(private ms = Date.now()) {
    super();
  }
  nowMs(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
