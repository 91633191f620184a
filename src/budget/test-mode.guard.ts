import { Injectable, NotFoundException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AppConfig } from '../platform/config/index.js';

/**
 * Hides the test endpoints unless P28_TEST_MODE is on, with the very 404 an unknown route gets.
 * Applied to the controller, so it runs before the handler's AuthGuard: without test mode the route
 * does not even answer 401. (A guard rather than Nest middleware: middleware would put
 * @fastify/middie's hook in front of every request, the gate's included.)
 */
@Injectable()
export class TestModeGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (this.config.P28_TEST_MODE) return true;
    const req = ctx.switchToHttp().getRequest<{ method?: string; url?: string; originalUrl?: string }>();
    throw new NotFoundException(`Cannot ${req.method} ${req.originalUrl ?? req.url}`);
  }
}
