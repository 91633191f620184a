import {
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  Put,
  Query,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { OpsWriteThrottlerGuard } from './auth/ops-throttler.guard.js';
import { CurrentActor, RequireRole } from './auth/roles.js';
import type { Actor } from './auth/token-registry.js';
import { JsonObjectBodyInterceptor } from './dto/json-object-body.interceptor.js';
import { ChangeModeDto, LedgerQueryDto, RollbackDto } from './dto/ops.dto.js';
import { LedgerMirror } from './ledger/ledger-mirror.js';
import { LedgerService } from './ledger/ledger.service.js';
import type { ChangeIntent } from './mode/mode-change.js';
import { ModeStore, type ChangeResult } from './mode/mode-store.js';

const response = (r: ChangeResult | undefined) => {
  if (!r) return undefined;
  const { entry: _entry, ...body } = r;
  return body;
};

/** CONTRACT.md §5 ops endpoints (the shadow report lives with the gate). */
@ApiTags('ops')
@ApiBearerAuth('bearer')
@Controller('ops')
export class OpsController {
  constructor(
    private readonly store: ModeStore,
    private readonly ledger: LedgerService,
    private readonly mirror: LedgerMirror,
  ) {}

  /** This replica's view of the shared mode (it follows Redis within a second). */
  @Get('mode')
  @RequireRole('viewer')
  mode() {
    const v = this.store.current();
    return {
      mode: v.mode,
      version: v.version,
      changed_at: v.changed_at ?? null,
      changed_by: v.changed_by ?? null,
      ...(v.expires_at !== undefined ? { expires_at: v.expires_at } : {}),
      ...(v.operation_id !== undefined ? { operation_id: v.operation_id } : {}),
      overrides: v.overrides,
    };
  }

  @Put('mode')
  @RequireRole('operator')
  @UseGuards(OpsWriteThrottlerGuard)
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  async change(@Body() body: ChangeModeDto, @CurrentActor() actor: Actor) {
    let intent: ChangeIntent;
    if (body.symbol === undefined) {
      intent = { op: 'set-mode', mode: body.mode!, expiresInSec: body.expires_in_sec };
    } else if (body.mode === null) {
      intent = { op: 'clear-override', symbol: body.symbol };
    } else {
      intent = { op: 'set-override', symbol: body.symbol, mode: body.mode };
    }
    return response(
      await this.store.change({
        intent,
        actor: actor.name,
        reason: body.reason,
        expectedVersion: body.expected_version,
      }),
    );
  }

  /** The one-call emergency return to shadow: global shadow, every override cleared, expiry gone. */
  @Post('rollback')
  @RequireRole('operator')
  @UseGuards(OpsWriteThrottlerGuard)
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  async rollback(@Body() body: RollbackDto, @CurrentActor() actor: Actor) {
    return response(
      await this.store.change({ intent: { op: 'rollback' }, actor: actor.name, reason: body.reason }),
    );
  }

  @Get('ledger')
  @RequireRole('viewer')
  list(@Query() q: LedgerQueryDto) {
    return this.ledger.page(q.limit, q.before);
  }

  @Get('ledger/verify')
  @RequireRole('viewer')
  verify() {
    return this.ledger.verify();
  }

  /** Re-appends entries the LEDGER_FILE mirror holds and Redis lost (e.g. a restart without persistence). */
  @Post('ledger/restore')
  @RequireRole('operator')
  @UseGuards(OpsWriteThrottlerGuard)
  @HttpCode(200)
  restore(@CurrentActor() actor: Actor) {
    return this.mirror.restore(actor.name);
  }
}
