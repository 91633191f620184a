import type { Logger } from '@nestjs/common';
import { settledWithin } from '../clock/bounded.js';
import type { RedisService } from './redis.service.js';

export interface SharedStateOptions {
  /** names the subscriber connection (`NAME-sub`) and its log line */
  name: string;
  channel: string;
  /** the safety-net re-read interval */
  refreshMs: number;
  /** how long boot waits for the first read */
  startupWaitMs: number;
  /** one read of the state from Redis, applied to this replica's copy */
  read: () => Promise<void>;
  logger: Logger;
}

/**
 * How a replica follows state that lives in Redis (the mode, the risk policy): pub/sub is the fast
 * path, a periodic re-read the safety net. Reads are single-flight, and a call made during one
 * triggers one more, so a notification that arrives mid-read is never lost to a read that started
 * before the change.
 */
export class SharedStateFollower {
  /** true while the channel subscription stands */
  subscribed = false;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly redis: RedisService,
    private readonly opts: SharedStateOptions,
  ) {}

  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.opts.read();
        } while (this.again && !this.stopped);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /**
   * The first read, bounded (a Redis that is down at boot must not hold the app: the caller's
   * defaults serve until Redis answers), then pub/sub and the periodic re-read.
   */
  async start(onFirstReadFailed: (err: Error) => void): Promise<void> {
    await settledWithin(this.refresh().catch(onFirstReadFailed), this.opts.startupWaitMs);
    this.subscribe();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.opts.refreshMs);
    this.timer.unref();
  }

  /** The subscriber is a RedisService.dedicated() connection: RedisService closes it. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private subscribe() {
    const sub = this.redis.dedicated(`${this.opts.name}-sub`, { autoResubscribe: false });
    sub.on('message', (channel: string) => {
      if (channel === this.opts.channel) void this.refresh().catch(() => undefined);
    });
    // (re)subscribe on every connect, then read: a notification missed while down is caught up
    sub.on('ready', () => {
      sub
        .subscribe(this.opts.channel)
        .then(() => {
          this.subscribed = true;
          return this.refresh();
        })
        .catch((err: Error) => {
          this.subscribed = false;
          this.opts.logger.warn({ msg: `${this.opts.name} channel subscribe failed`, error: err.message });
        });
    });
    sub.on('close', () => {
      this.subscribed = false;
    });
  }
}
