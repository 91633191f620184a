import {
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ROLE_KEY } from './roles.js';
import { TokenRegistry, type Actor, type Role } from './token-registry.js';

const RANK: Record<Role, number> = { viewer: 1, operator: 2 };

/**
 * Bearer-token check for handlers marked with @RequireRole. Unmarked handlers (health, metrics,
 * the governor's evaluate) are open. With no tokens configured, protected handlers refuse.
 */
@Injectable()
export class AuthGuard implements CanActivate {
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
    const req = ctx
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; actor?: Actor }>();
    if (!this.tokens.configured) {
      throw new UnauthorizedException({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'no API tokens are configured (OPS_API_TOKENS); protected endpoints are refused',
      });
    }
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new UnauthorizedException({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'missing bearer token: send "Authorization: Bearer <token>"',
      });
    }
    const actor = this.tokens.authenticate(match[1]);
    if (!actor) {
      throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: 'unknown token' });
    }
    if (RANK[actor.role] < RANK[needed]) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `role "${needed}" required; token of "${actor.name}" has role "${actor.role}"`,
      });
    }
    req.actor = actor;
    return true;
  }
}
