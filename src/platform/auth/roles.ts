import {
  applyDecorators,
  createParamDecorator,
  SetMetadata,
  UseGuards,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AuthGuard, ROLE_KEY } from './auth.guard.js';
import { OpsWriteThrottlerGuard } from './ops-throttler.guard.js';
import type { Actor, Role } from './token-registry.js';

/**
 * Marks a handler or controller as needing an authenticated `viewer` or `operator` (operator ⊇
 * viewer), and applies the AuthGuard that checks it: the mark and the check cannot part, and routes
 * without the mark (the gate's hot path among them) pay nothing for auth. The OpenAPI metadata rides
 * along so the docs cannot forget a protected route's auth scheme. Every protected route documents
 * a 403: a `service` token (gate only) gets it everywhere, a viewer token on operator routes.
 */
export const RequireRole = (role: Role) =>
  applyDecorators(
    SetMetadata(ROLE_KEY, role),
    UseGuards(AuthGuard),
    ApiBearerAuth('bearer'),
    ApiUnauthorizedResponse({
      description: `needs a \`${role}\` bearer token: missing, malformed or unknown token, or no tokens configured`,
    }),
    ApiForbiddenResponse({
      description: `the token is valid but its role is below \`${role}\` (a service token may call only the gate)`,
    }),
  );

/**
 * An operator write that counts against the ops write budget: authentication first, so the budget is
 * the actor's (the throttler keys on the actor AuthGuard sets), then the throttle.
 */
export const OperatorWrite = () =>
  applyDecorators(RequireRole('operator'), UseGuards(OpsWriteThrottlerGuard));

/** The authenticated actor of the request (set by AuthGuard). */
export const CurrentActor = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Actor | undefined =>
    ctx.switchToHttp().getRequest<{ actor?: Actor }>().actor,
);
