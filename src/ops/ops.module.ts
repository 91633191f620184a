import { Global, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AuthGuard } from '../platform/auth/auth.guard.js';
import {
  OPS_WRITE_LIMIT,
  OPS_WRITE_WINDOW_MS,
  OpsWriteThrottlerGuard,
} from '../platform/auth/ops-throttler.guard.js';
import { TokenRegistry } from '../platform/auth/token-registry.js';
import { LedgerMirror } from './ledger/ledger-mirror.js';
import { LedgerRepository } from './ledger/ledger.repository.js';
import { LedgerSigner } from './ledger/ledger-signer.js';
import { LedgerService } from './ledger/ledger.service.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { ModeExpiryService } from './mode/mode-expiry.service.js';
import { ModeStore } from './mode/mode-store.js';
import { ModeRepository } from './mode/mode.repository.js';
import { OpsController } from './ops.controller.js';

/** Modes, the audit ledger and operator auth (CONTRACT.md §4–5). Only this module writes the mode. */
@Global()
@Module({
  imports: [
    // not an APP_GUARD: only the write endpoints opt in, through @OperatorWrite
    ThrottlerModule.forRoot({
      throttlers: [{ name: 'ops-write', ttl: OPS_WRITE_WINDOW_MS, limit: OPS_WRITE_LIMIT }],
      errorMessage: `too many ops write requests: at most ${OPS_WRITE_LIMIT} per minute per actor`,
    }),
  ],
  controllers: [OpsController],
  providers: [
    LedgerSigner,
    ModeRepository,
    LedgerRepository,
    LedgerService,
    LedgerMirror,
    ModeStore,
    { provide: ModeReader, useExisting: ModeStore },
    ModeExpiryService,
    OpsWriteThrottlerGuard,
    TokenRegistry,
    // applied by @RequireRole where a role is needed, not as an APP_GUARD: open routes skip it
    AuthGuard,
  ],
  exports: [ModeReader, ModeStore, TokenRegistry],
})
export class OpsModule {}
