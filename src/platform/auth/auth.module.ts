import { Module } from '@nestjs/common';
import { AuthGuard } from './auth.guard.js';
import { TokenRegistry } from './token-registry.js';

/** Operator tokens and the guard `@RequireRole` applies; imported by every feature with a protected route. */
@Module({
  // AuthGuard is applied where a role is needed, not as an APP_GUARD: open routes skip it
  providers: [TokenRegistry, AuthGuard],
  exports: [TokenRegistry, AuthGuard],
})
export class AuthModule {}
