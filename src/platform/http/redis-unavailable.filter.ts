import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import type { DomainError } from '../../core/errors.js';
import { domainErrorBody, domainStatus, errorBody } from './error-body.js';

/**
 * The one exception filter: a domain error answers with its contract body; a read or write endpoint
 * whose Redis is down answers 503 naming Redis, not a bare 500, so the caller can tell "try again"
 * from "this is broken". Everything else keeps Nest's handling.
 */
@Catch()
export class RedisUnavailableFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Http');

  override catch(exception: unknown, host: ArgumentsHost) {
    const reply = () => host.switchToHttp().getResponse<{ code(n: number): { send(b: unknown): void } }>();
    const status = domainStatus(exception);
    if (status !== undefined) {
      reply()
        .code(status)
        .send(domainErrorBody(status, exception as DomainError));
      return;
    }
    if (exception instanceof HttpException || !isRedisUnavailable(exception)) {
      return super.catch(exception, host);
    }
    this.logger.warn({ msg: 'request failed: Redis unavailable', error: exception.message });
    reply()
      .code(HttpStatus.SERVICE_UNAVAILABLE)
      .send(errorBody(503, `Redis is unavailable (${exception.message}); retry later`));
  }
}
