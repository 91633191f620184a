import {
  ForbiddenException,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { errorBody } from '../http/error-body.js';
import { Reflector } from '@nestjs/core';
import { Metrics } from '../observability/metrics.js';
import { logPath } from '../logging/log-path.js';
import { LogRateLimiter } from '../logging/log-rate-limiter.js';
import { checkBearer } from './bearer.js';
import { TokenRegistry, type Actor, type Role } from './token-registry.js';

/** Metadata key of the role a handler or controller needs (set by @RequireRole). */
export const ROLE_KEY = 'p28:role';

/** `service` ranks below viewer: it may call the gate only, which checks its token itself. */
const RANK: Record<Role, number> = { service: 0, viewer: 1, operator: 2 };

interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
  method?: string;
  url?: string;
  actor?: Actor;
}

interface HeaderReply {
  header?(name: string, value: string): unknown;
}

/**
 * Bearer-token check, applied by @RequireRole to the handlers and controllers it marks (so open
 * routes such as health and metrics never run it; the gate's evaluate checks its callers with
 * GateAuth). A `service` token ranks below viewer: 403 on every route here. With no tokens
 * configured, protected handlers refuse. Bodies say what is missing; the token itself is never
 * logged or echoed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');
  /** Refused tokens are the caller's to multiply: one line per interval, the rest counted. */
  private readonly logLimiter: LogRateLimiter;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenRegistry,
    metrics: Metrics,
  ) {
    const suppressed = metrics.logSuppressed.labels('auth_refused');
    this.logLimiter = new LogRateLimiter(10_000, undefined, () => suppressed.inc());
  }

  canActivate(ctx: ExecutionContext): boolean {
    const needed = this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (!needed) return true;
    const http = ctx.switchToHttp();
    const req = http.getRequest<AuthRequest>();
    const unauthorized = (message: string) => {
      http.getResponse<HeaderReply>().header?.('WWW-Authenticate', 'Bearer realm="p28-ops"');
      return new UnauthorizedException(errorBody(401, message, { required_role: needed }));
    };
    if (!this.tokens.configured) {
      throw unauthorized(
        'no API tokens are configured (OPS_API_TOKENS is empty); protected endpoints are refused',
      );
    }
    const check = checkBearer(req.headers.authorization, this.tokens);
    if (check.kind === 'missing') {
      throw unauthorized('missing bearer token: send "Authorization: Bearer <token>"');
    }
    if (check.kind === 'malformed') {
      throw unauthorized('malformed Authorization header: expected "Bearer <token>"');
    }
    if (check.kind === 'unknown') {
      const held = this.logLimiter.take('auth_refused');
      if (held !== undefined) {
        this.logger.warn({
          msg: 'unknown bearer token refused',
          ip: req.ip,
          method: req.method,
          path: logPath(req.url),
          suppressed_since_last: held,
        });
      }
      throw unauthorized('unknown token: it matches no entry of OPS_API_TOKENS');
    }
    const actor = check.actor;
    if (RANK[actor.role] < RANK[needed]) {
      throw new ForbiddenException(
        errorBody(403, `role "${needed}" required; the token of "${actor.name}" has role "${actor.role}"`, {
          required_role: needed,
          actor: actor.name,
        }),
      );
    }
    req.actor = actor;
    return true;
  }
}
