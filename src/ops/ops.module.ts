import { Module } from '@nestjs/common';
import { AuthModule } from '../platform/auth/auth.module.js';
import { ClockModule } from '../platform/clock/clock.module.js';
import { RedisModule } from '../platform/redis/redis.module.js';
import { ThrottlerModule } from '@nestjs/throttler';
import {
  OPS_WRITE_LIMIT,
  OPS_WRITE_WINDOW_MS,
  OpsWriteThrottlerGuard,
} from '../platform/auth/ops-throttler.guard.js';
import { LedgerMirror } from './ledger/ledger-mirror.js';
import { LedgerRepository } from './ledger/ledger.repository.js';
import { LedgerSigner } from './ledger/ledger-signer.js';
import { LedgerService } from './ledger/ledger.service.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { ModeExpiryService } from './mode/mode-expiry.service.js';
import { ModeCache } from './mode/mode-cache.js';
import { ModeChanges } from './mode/mode-changes.js';
import { ModeRepository } from './mode/mode.repository.js';
import { OpsController } from './ops.controller.js';
import { PolicyReader } from '../platform/policy/policy-reader.js';
import { PolicyController } from './policy/policy.controller.js';
import { PolicyStore } from './policy/policy-store.js';
import { PolicyRepository } from './policy/policy.repository.js';

/** Modes and the audit ledger (docs/contract.md §4 Modes and the audit trail). Only this module writes the mode. */
@Module({
  imports: [
    AuthModule,
    ClockModule,
    RedisModule,
    // not an APP_GUARD: only the write endpoints opt in, through @OperatorWrite
    ThrottlerModule.forRoot({
      throttlers: [{ name: 'ops-write', ttl: OPS_WRITE_WINDOW_MS, limit: OPS_WRITE_LIMIT }],
      errorMessage: `too many ops write requests: at most ${OPS_WRITE_LIMIT} per minute per actor`,
    }),
  ],
  controllers: [OpsController, PolicyController],
  providers: [
    LedgerSigner,
    ModeRepository,
    LedgerRepository,
    LedgerService,
    LedgerMirror,
    ModeCache,
    { provide: ModeReader, useExisting: ModeCache },
    ModeChanges,
    ModeExpiryService,
    PolicyRepository,
    PolicyStore,
    { provide: PolicyReader, useExisting: PolicyStore },
    OpsWriteThrottlerGuard,
  ],
  exports: [ModeReader, PolicyReader],
})
export class OpsModule {}
