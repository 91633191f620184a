import { Body, Controller, Get, HttpCode, Post, Put, Query, UseInterceptors } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { SMALL_BODY_LIMIT_BYTES } from '../platform/http/body-limits.js';
import { CurrentActor, OperatorWrite, RequireRole } from '../platform/auth/roles.js';
import type { Actor } from '../platform/auth/token-registry.js';
import { JsonObjectBodyInterceptor } from '../platform/http/json-object-body.interceptor.js';
import {
  ChainReportResponse,
  ChangeModeDto,
  ChangeModeResponse,
  LedgerPageResponse,
  LedgerQueryDto,
  ModeViewResponse,
  RestoreResultResponse,
  RollbackDto,
} from './dto/ops.dto.js';
import { LedgerMirror } from './ledger/ledger-mirror.js';
import { LedgerService } from './ledger/ledger.service.js';
import type { ChangeIntent } from './mode/mode-change.js';
import { ModeCache } from './mode/mode-cache.js';
import { ModeChanges, type ChangeResult } from './mode/mode-changes.js';

const response = (r: ChangeResult | undefined) => {
  if (!r || 'unchanged' in r) return r;
  const { entry: _entry, ...body } = r;
  return body;
};

const TOO_LARGE = { description: `body over ${SMALL_BODY_LIMIT_BYTES} bytes` };
const THROTTLED = { description: 'too many write requests from this client' };
const BAD_BODY = {
  description: 'invalid body: `message` lists `field: rule`, `fields` names the fields; nothing is written',
};

/** docs/contract.md §5 HTTP API ops endpoints (the shadow report lives with the gate). */
@ApiTags('ops')
@Controller('ops')
export class OpsController {
  constructor(
    private readonly cache: ModeCache,
    private readonly changes: ModeChanges,
    private readonly ledger: LedgerService,
    private readonly mirror: LedgerMirror,
  ) {}

  /** This replica's view of the shared mode (it follows Redis within a second). */
  @Get('mode')
  @RequireRole('viewer')
  @ApiOperation({
    summary: 'Current mode and per-symbol overrides',
    description: "Role: viewer. This replica's view of the shared mode (it follows Redis within a second).",
  })
  @ApiOkResponse({ type: ModeViewResponse })
  mode() {
    const v = this.cache.current();
    return {
      mode: v.mode,
      version: v.version,
      changed_at: v.changed_at ?? null,
      changed_by: v.changed_by ?? null,
      ...(v.expires_at !== undefined ? { expires_at: v.expires_at } : {}),
      ...(v.expires_at !== undefined ? { revert_to: v.revert_to ?? 'shadow' } : {}),
      ...(v.operation_id !== undefined ? { operation_id: v.operation_id } : {}),
      // built from the Map as own data properties, so `__proto__` or `constructor` stay plain symbols
      overrides: Object.fromEntries(v.overrides),
    };
  }

  @Put('mode')
  @OperatorWrite()
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Change the global mode or a per-symbol override',
    description:
      'Role: operator. Written atomically with its ledger entry. With `expected_version` the change is ' +
      'a compare-and-set. `expires_in_sec` (global enforce only) reverts to shadow at expiry; ' +
      '`symbol` with `"mode": null` clears that override.',
  })
  @ApiBody({ type: ChangeModeDto })
  @ApiOkResponse({ type: ChangeModeResponse })
  @ApiBadRequestResponse(BAD_BODY)
  @ApiConflictResponse({
    description:
      'expected_version is stale (body carries current_version): re-read GET /ops/mode; nothing written',
  })
  @ApiPayloadTooLargeResponse(TOO_LARGE)
  @ApiTooManyRequestsResponse(THROTTLED)
  @ApiServiceUnavailableResponse({
    description: 'Redis unavailable; `outcome` says whether it may have applied',
  })
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
      await this.changes.change({
        intent,
        actor: actor.name,
        reason: body.reason,
        expectedVersion: body.expected_version,
      }),
    );
  }

  /**
   * The one-call emergency return to shadow: global shadow, every override cleared, expiry gone.
   * Never throttled: an operator who spent the write budget must still be able to stand down. It
   * needs an operator token (AuthGuard refuses outsiders first), and with nothing to undo it writes
   * nothing, so repeating it cannot grow the ledger.
   */
  @Post('rollback')
  @RequireRole('operator')
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Emergency return to shadow',
    description:
      'Role: operator. Global shadow, every override cleared, any expiry dropped; one ledger entry. ' +
      'With nothing to undo it answers `unchanged: true` and writes nothing. Not throttled.',
  })
  @ApiBody({ type: RollbackDto })
  @ApiOkResponse({ type: ChangeModeResponse })
  @ApiBadRequestResponse(BAD_BODY)
  @ApiConflictResponse({ description: 'other changes kept landing first: retry' })
  @ApiPayloadTooLargeResponse(TOO_LARGE)
  @ApiServiceUnavailableResponse({
    description: 'Redis unavailable; `outcome` says whether it may have applied',
  })
  async rollback(@Body() body: RollbackDto, @CurrentActor() actor: Actor) {
    return response(
      await this.changes.change({ intent: { op: 'rollback' }, actor: actor.name, reason: body.reason }),
    );
  }

  @Get('ledger')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Audit ledger, newest first, paged', description: 'Role: viewer.' })
  @ApiOkResponse({ type: LedgerPageResponse })
  @ApiBadRequestResponse({ description: 'bad `limit` or `before` (named in `fields`)' })
  @ApiServiceUnavailableResponse({ description: 'Redis unavailable' })
  list(@Query() q: LedgerQueryDto) {
    return this.ledger.page(q.limit, q.before);
  }

  @Get('ledger/verify')
  @RequireRole('viewer')
  @ApiOperation({
    summary: 'Check the ledger: hash chain, signatures, shape, versions',
    description:
      'Role: viewer. `breaks` lists every break (`hash_mismatch`, `prev_mismatch`, `unsigned`, ' +
      '`unknown_signer`, `bad_signature`, `bad_shape`, `version_gap`); `signed` says whether signatures were checked.',
  })
  @ApiOkResponse({ type: ChainReportResponse })
  @ApiServiceUnavailableResponse({ description: 'Redis unavailable' })
  verify() {
    return this.ledger.verify();
  }

  /** Re-appends entries the LEDGER_FILE mirror holds and Redis lost (e.g. a restart without persistence). */
  @Post('ledger/restore')
  @OperatorWrite()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Restore ledger entries from the LEDGER_FILE mirror',
    description:
      'Role: operator. Idempotent. Refused when the file chain is broken or Redis has forked from it.',
  })
  @ApiOkResponse({ type: RestoreResultResponse })
  @ApiConflictResponse({ description: 'no LEDGER_FILE, a broken file chain, or a fork to look at' })
  @ApiTooManyRequestsResponse(THROTTLED)
  @ApiServiceUnavailableResponse({ description: 'Redis unavailable' })
  restore(@CurrentActor() actor: Actor) {
    return this.mirror.restore(actor.name);
  }
}
