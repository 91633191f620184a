import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { DomainError } from '../../core/errors.js';
import { domainErrorBody, domainStatus, errorBody } from './error-body.js';

/** ioredis's ways of saying "Redis is not there right now" (connection, retries, timeout, cluster). */
const UNAVAILABLE = [
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /Command timed out/i,
  /Reached the max retries per request limit/i,
  /connect ECONNREFUSED/i,
  /ClusterAllFailedError|Failed to refresh slots cache/i,
  /LOADING Redis is loading/i,
  /All sentinels are unreachable/i,
];

function isRedisUnavailable(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'RedisBatchTimeout' ||
    UNAVAILABLE.some((re) => re.test(err.message))
  );
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
