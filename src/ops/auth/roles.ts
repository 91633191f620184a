import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Actor, Role } from './token-registry.js';

export const ROLE_KEY = 'p28:role';

/**
 * Marks a handler or controller as needing an authenticated `viewer` or `operator` (operator ⊇ viewer).
 * The OpenAPI metadata rides along so the docs cannot forget a protected route's auth scheme. Only
 * operator routes document a 403: every valid token is at least a viewer, so viewer routes answer
 * 401 or proceed.
 */
export const RequireRole = (role: Role) =>
  applyDecorators(
    SetMetadata(ROLE_KEY, role),
    ApiBearerAuth('bearer'),
    ApiUnauthorizedResponse({
      description: `needs a \`${role}\` bearer token: missing, malformed or unknown token, or no tokens configured`,
    }),
    ...(role === 'viewer'
      ? []
      : [ApiForbiddenResponse({ description: `the token is valid but its role is below \`${role}\`` })]),
  );

/** The authenticated actor of the request (set by AuthGuard). */
export const CurrentActor = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Actor | undefined =>
    ctx.switchToHttp().getRequest<{ actor?: Actor }>().actor,
);
