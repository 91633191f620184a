import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logPath } from './log-path.js';
import { LogRateLimiter } from './log-rate-limiter.js';

/** Statuses that mean "refused" (auth, role, bad body, size, type, throttle): each leaves a trace. */
const REFUSED_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 413, 415, 429]);
/** Longest refusal reason a line carries: the API's own message, never a body echo. */
const REASON_MAX = 200;

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AccessLogDeps {
  /** the token's name (never the token) for a known bearer header, else undefined */
  tokenName(header: unknown): string | undefined;
  /** a line held back by the limiter (one fixed label, so callers cannot create series) */
  onSuppressed(): void;
  intervalMs?: number;
}

interface ActorRequest {
  actor?: { name: string; role: string };
}

/** The `message` of an error body, flattened, cleaned and cut: what the caller was told. */
function refusalReason(payload: unknown): string {
  if (typeof payload !== 'string' || payload.length > 64 * 1024) return '';
  let message: unknown;
  try {
    message = (JSON.parse(payload) as { message?: unknown }).message;
  } catch {
    return '';
  }
  const text = Array.isArray(message)
    ? message.map(String).join('; ')
    : typeof message === 'string'
      ? message
      : '';
  // eslint-disable-next-line no-control-regex
  const clean = text.slice(0, REASON_MAX).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return text.length > REASON_MAX ? `${clean}…` : clean;
}

function operationId(payload: unknown): string | undefined {
  if (typeof payload !== 'string' || payload.length > 64 * 1024) return undefined;
  try {
    const id = (JSON.parse(payload) as { operation_id?: unknown }).operation_id;
    return typeof id === 'string' ? id.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Access and audit lines from one Fastify onSend hook, so every route is covered,
 * the gate's raw route included, and a 2xx costs one set lookup:
 * - a refused request: route pattern, path without its query string, status, reason, token name;
 *   one line per (status, route) per interval, with how many were held back;
 * - a successful write by an operator: actor, route and the operation id it created.
 */
export function installAccessLog(fastify: FastifyInstance, deps: AccessLogDeps): void {
  const logger = new Logger('Access');
  const limiter = new LogRateLimiter(deps.intervalMs ?? 10_000, undefined, () => deps.onSuppressed());
  fastify.addHook('onSend', (req: FastifyRequest, reply: FastifyReply, payload: unknown, done) => {
    const status = reply.statusCode;
    if (REFUSED_STATUSES.has(status)) {
      // the route pattern is the code's (bounded); an unmatched URL never gets these statuses
      const route = req.routeOptions.url ?? '_unmatched';
      const held = limiter.take(`${status} ${route}`);
      if (held !== undefined) {
        logger.warn({
          msg: 'request refused',
          request_id: req.id,
          status,
          method: req.method,
          route,
          path: logPath(req.url),
          reason: refusalReason(payload),
          token_name: deps.tokenName(req.headers.authorization) ?? null,
          suppressed_since_last: held,
        });
      }
    } else if (status < 300 && WRITE_METHODS.has(req.method)) {
      const actor = (req as FastifyRequest & ActorRequest).actor;
      if (actor?.role === 'operator') {
        logger.log({
          msg: 'operator write',
          request_id: req.id,
          actor: actor.name,
          method: req.method,
          route: req.routeOptions.url ?? logPath(req.url),
          status,
          operation_id: operationId(payload) ?? null,
        });
      }
    }
    done(null, payload);
  });
}
