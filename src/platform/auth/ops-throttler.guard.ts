import { HttpException, HttpStatus, Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { errorBody } from '../http/error-body.js';
import type { Actor } from './token-registry.js';

/** The write endpoints together allow this many requests per actor (per replica) per minute. */
export const OPS_WRITE_LIMIT = 30;
export const OPS_WRITE_WINDOW_MS = 60_000;

/**
 * Throttles the ops write endpoints only (applied with @UseGuards, never globally, so reads and the
 * gate's hot path are not throttled). @OperatorWrite applies it after AuthGuard, so the budget
 * belongs to the authenticated actor; a request without one is counted by IP.
 */
@Injectable()
export class OpsWriteThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const actor = req.actor as Actor | undefined;
    return actor ? `actor:${actor.name}` : `ip:${String(req.ip)}`;
  }

  /** One budget across all the write endpoints (the default key is per handler). */
  protected override generateKey(_ctx: ExecutionContext, tracker: string, throttler: string): string {
    return `${throttler}:${tracker}`;
  }

  /**
   * The contract's error body (ThrottlerException's lacks `error`), and the standard Retry-After:
   * the library's own header is named after the throttler (`Retry-After-ops-write`), which no
   * client reads.
   */
  protected override async throwThrottlingException(
    ctx: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const message = await this.getErrorMessage(ctx, detail);
    ctx
      .switchToHttp()
      .getResponse<{ header(name: string, value: string): unknown }>()
      .header('Retry-After', String(Math.max(1, Math.ceil(detail.timeToBlockExpire))));
    throw new HttpException(errorBody(HttpStatus.TOO_MANY_REQUESTS, message), HttpStatus.TOO_MANY_REQUESTS);
  }
}
