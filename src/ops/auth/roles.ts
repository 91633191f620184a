import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Actor, Role } from './token-registry.js';

export const ROLE_KEY = 'p28:role';

/** Marks a handler or controller as needing an authenticated `viewer` or `operator` (operator ⊇ viewer). */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

/** The authenticated actor of the request (set by AuthGuard). */
export const CurrentActor = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Actor | undefined =>
    ctx.switchToHttp().getRequest<{ actor?: Actor }>().actor,
);
