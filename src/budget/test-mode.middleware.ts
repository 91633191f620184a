import { Injectable, NotFoundException, type NestMiddleware } from '@nestjs/common';
import { AppConfig } from '../config/index.js';

/**
 * Hides the test endpoints unless P28_TEST_MODE is on, with the very 404 an unknown route gets.
 * Middleware runs before guards, so without test mode the route does not even answer 401.
 */
@Injectable()
export class TestModeMiddleware implements NestMiddleware {
  constructor(private readonly config: AppConfig) {}

  use(req: { method?: string; url?: string; originalUrl?: string }, _res: unknown, next: () => void) {
    if (this.config.P28_TEST_MODE) return next();
    throw new NotFoundException(`Cannot ${req.method} ${req.originalUrl ?? req.url}`);
  }
}
