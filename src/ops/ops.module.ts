import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth/auth.guard.js';
import { TokenRegistry } from './auth/token-registry.js';
import { ModeReader } from './mode-reader.js';
import { SeededModeReader } from './seeded-mode.reader.js';

@Global()
@Module({
  providers: [
    { provide: ModeReader, useClass: SeededModeReader },
    TokenRegistry,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [ModeReader, TokenRegistry],
})
export class OpsModule {}
