import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import type { DomainError } from '../../core/errors.js';
import { domainErrorBody, domainStatus, errorBody } from './error-body.js';

/**
 * Retry-After (seconds) of the refusals that pass: 429, a walk of the decision log ends; 503,
 * ioredis reconnects. Told when to come back, a client does not retry in a tight loop. Not for a
 * change whose outcome is `unknown` or `unconfirmed`: the caller must look before resending it.
 */
const RETRY_AFTER_SEC: Readonly<Record<number, string>> = { 429: '1', 503: '2' };

interface Reply {
  code(n: number): Reply;
  header(name: string, value: string): Reply;
  send(b: unknown): void;
}

/**
 * The one exception filter: a domain error answers with its contract body; a read or write endpoint
 * whose Redis is down answers 503 naming Redis, not a bare 500, so the caller can tell "try again"
 * from "this is broken". Everything else keeps Nest's handling.
 */
@Catch()
export class RedisUnavailableFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Http');

  override catch(exception: unknown, host: ArgumentsHost) {
    const reply = (status: number, outcome?: unknown) => {
      const r = host.switchToHttp().getResponse<Reply>().code(status);
      const retry = RETRY_AFTER_SEC[status];
      const mayHaveApplied = outcome === 'unknown' || outcome === 'unconfirmed';
      return retry === undefined || mayHaveApplied ? r : r.header('Retry-After', retry);
    };
    const status = domainStatus(exception);
    if (status !== undefined) {
      const err = exception as DomainError;
      reply(status, err.details.outcome).send(domainErrorBody(status, err));
      return;
    }
    if (exception instanceof HttpException || !isRedisUnavailable(exception)) {
      return super.catch(exception, host);
    }
    this.logger.warn({ msg: 'request failed: Redis unavailable', error: exception.message });
    reply(HttpStatus.SERVICE_UNAVAILABLE).send(
      errorBody(503, `Redis is unavailable (${exception.message}); retry later`),
    );
  }
}
