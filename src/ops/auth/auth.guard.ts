import {
  ForbiddenException,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TokenRegistry, type Actor, type Role } from './token-registry.js';

/** Metadata key of the role a handler or controller needs (set by @RequireRole). */
export const ROLE_KEY = 'p28:role';

const RANK: Record<Role, number> = { viewer: 1, operator: 2 };
/** Longer than any token `npm run token` makes; refuses absurd headers before hashing them. */
const MAX_TOKEN_LENGTH = 512;
const BEARER = /^Bearer[ \t]+([!-~]+)[ \t]*$/i;

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
 * routes such as health, metrics and the governor's evaluate never run it). With no tokens
 * configured, protected handlers refuse. Bodies say what is missing; the token itself is never
 * logged or echoed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenRegistry,
  ) {}

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
      return new UnauthorizedException({
        statusCode: 401,
        error: 'Unauthorized',
        message,
        required_role: needed,
      });
    };
    if (!this.tokens.configured) {
      throw unauthorized(
        'no API tokens are configured (OPS_API_TOKENS is empty); protected endpoints are refused',
      );
    }
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match) {
      throw unauthorized(
        header === undefined
          ? 'missing bearer token: send "Authorization: Bearer <token>"'
          : 'malformed Authorization header: expected "Bearer <token>"',
      );
    }
    const actor = match[1].length <= MAX_TOKEN_LENGTH ? this.tokens.authenticate(match[1]) : undefined;
    if (!actor) {
      this.logger.warn({ msg: 'unknown bearer token refused', ip: req.ip, method: req.method, url: req.url });
      throw unauthorized('unknown token: it matches no entry of OPS_API_TOKENS');
    }
    if (RANK[actor.role] < RANK[needed]) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `role "${needed}" required; the token of "${actor.name}" has role "${actor.role}"`,
        required_role: needed,
        actor: actor.name,
      });
    }
    req.actor = actor;
    return true;
  }
}
