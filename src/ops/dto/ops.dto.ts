import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  Validate,
  ValidateIf,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { MODES, type Mode } from '../../platform/config/index.js';
import {
  OPERATION_ID,
  OPERATION_NAMES,
  type LedgerEntry,
  type OperationName,
} from '../../core/ledger/ledger-entry.js';
import type { RestoreResult } from '../ledger/ledger-mirror.js';
import {
  BREAK_PROBLEMS,
  type BreakProblem,
  type LedgerBreak,
  type LedgerReport,
} from '../../core/ledger/ledger-verify.js';
import { MAX_EXPIRY_SEC } from '../mode/mode-change.js';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';

/**
 * One line of visible text: C0/C1 controls (newlines and tab included), format characters (bidi
 * overrides and isolates, zero-width spaces and joiners, BOM) and line/paragraph separators would
 * let a reason rewrite or hide what a terminal shows of the trail.
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const hasControlChars = (s: string): boolean => UNSAFE_TEXT.test(s);

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const upper = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toUpperCase() : value;

@ValidatorConstraint({ name: 'noControlChars' })
class NoControlCharsConstraint implements ValidatorConstraintInterface {
  // a non-string is IsString's to report
  validate(value: unknown) {
    return typeof value !== 'string' || !hasControlChars(value);
  }
  defaultMessage(args: ValidationArguments) {
    return `${args.property} must be one line without control, bidi or zero-width characters`;
  }
}

export class ReasonFields {
  @ApiProperty({
    type: String,
    minLength: 3,
    maxLength: 500,
    example: 'enforcing after a clean week in shadow',
    description: 'why; recorded in the ledger (trimmed; one line, no control, bidi or zero-width characters)',
  })
  @Transform(trim)
  @IsString({ message: 'reason must be a string' })
  @Length(3, 500, { message: 'reason must be 3 to 500 characters (after trimming)' })
  @Validate(NoControlCharsConstraint)
  reason!: string;
}

@ValidatorConstraint({ name: 'expiringModeOnly' })
class ExpiringModeOnlyConstraint implements ValidatorConstraintInterface {
  validate(_: unknown, args: ValidationArguments) {
    const o = args.object as ChangeModeDto;
    return (o.mode === 'enforce' || o.mode === 'reduce_only') && o.symbol === undefined;
  }
  defaultMessage() {
    return 'expires_in_sec is only allowed with "mode": "enforce" or "reduce_only" and no symbol';
  }
}

/** `PUT /ops/mode` (docs/contract.md §5 HTTP API). */
export class ChangeModeDto extends ReasonFields {
  // null is only meaningful with a symbol: it clears that symbol's override
  @ApiProperty({
    enum: MODES,
    nullable: true,
    example: 'enforce',
    description:
      'reduce_only is the kill switch: every plan that does not lower |position| is blocked, also without ' +
      "a budget or with Redis unreadable. null (only with symbol) clears that symbol's override",
  })
  @ValidateIf((o: ChangeModeDto) => !(o.mode === null && o.symbol !== undefined))
  @IsIn(MODES, {
    message: 'mode must be "shadow", "enforce" or "reduce_only" (null, with a symbol, clears its override)',
  })
  mode!: Mode | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    example: 7,
    description: 'compare-and-set: the version from GET /ops/mode; refused with 409 unless current',
  })
  @IsOptional()
  @IsInt({ message: 'expected_version must be an integer' })
  @Min(0, { message: 'expected_version must be >= 0' })
  @Max(Number.MAX_SAFE_INTEGER)
  expected_version?: number;

  @ApiPropertyOptional({
    type: String,
    pattern: SYMBOL_PATTERN.source,
    example: 'BTCUSDT',
    description:
      'set (or, with mode null, clear) a per-symbol override instead of the global mode (upper-cased)',
  })
  // not @IsOptional, which would let null through: only an omitted symbol means global
  @ValidateIf((o: ChangeModeDto) => o.symbol !== undefined)
  @Transform(upper)
  @IsString({ message: 'symbol must be a string (omit it for the global mode; null is refused)' })
  @Matches(SYMBOL_PATTERN, { message: SYMBOL_RULE })
  symbol?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_EXPIRY_SEC,
    example: 3600,
    description:
      'global enforce or reduce_only only: reverts by itself after this many seconds to the mode this change replaced',
  })
  @IsOptional()
  @IsInt({ message: 'expires_in_sec must be an integer' })
  @Min(1, { message: 'expires_in_sec must be >= 1' })
  @Max(MAX_EXPIRY_SEC, { message: `expires_in_sec must be <= ${MAX_EXPIRY_SEC} (7 days)` })
  @Validate(ExpiringModeOnlyConstraint)
  expires_in_sec?: number;
}

/** `POST /ops/rollback`. */
export class RollbackDto extends ReasonFields {}

/** `GET /ops/ledger` query. */
export class LedgerQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    default: 50,
    description: 'entries per page',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be >= 1' })
  @Max(1000, { message: 'limit must be <= 1000' })
  limit?: number;

  @ApiPropertyOptional({
    type: String,
    pattern: OPERATION_ID.source,
    example: 'OPS-2026-11-21-003',
    description: 'an operation_id (next_before of the previous page): entries older than it (exclusive)',
  })
  @IsOptional()
  @IsString({ message: 'before must be a single operation_id' })
  @Matches(OPERATION_ID, { message: 'before must be an operation_id (OPS-YYYY-MM-DD-NNN)' })
  before?: string;
}

// Response shapes of the ops endpoints: documentation only, never instantiated.

/** `GET /ops/mode`. */
export class ModeViewResponse {
  @ApiProperty({ enum: MODES, description: 'the global mode' })
  mode!: Mode;

  @ApiProperty({ type: 'integer', example: 7, description: 'pass as expected_version to change it' })
  version!: number;

  @ApiProperty({ type: Number, nullable: true, description: 'epoch seconds; null before the first change' })
  changed_at!: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'actor of the last change' })
  changed_by!: string | null;

  @ApiPropertyOptional({
    type: Number,
    description: 'epoch seconds an expiring enforce or reduce_only reverts (to revert_to)',
  })
  expires_at?: number;

  @ApiPropertyOptional({
    enum: MODES,
    description: 'the mode an expiring change replaced: what it reverts to',
  })
  revert_to?: Mode;

  @ApiPropertyOptional({ type: String, example: 'OPS-2026-11-21-003', description: 'the last operation' })
  operation_id?: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string', enum: [...MODES] },
    example: { BTCUSDT: 'enforce' },
    description: 'SYMBOL -> mode',
  })
  overrides!: Record<string, Mode>;
}

/** `PUT /ops/mode` and `POST /ops/rollback`. */
export class ChangeModeResponse {
  @ApiProperty({
    enum: MODES,
    description: "the global mode, or the symbol's effective mode for an override",
  })
  mode!: Mode;

  @ApiProperty({ type: 'integer', description: 'the new version' })
  version!: number;

  @ApiProperty({
    type: String,
    example: 'OPS-2026-11-21-004',
    description:
      'its ledger entry; for a rollback with nothing to undo (`unchanged`), the entry the current state comes from (absent before any change)',
  })
  operation_id!: string;

  @ApiPropertyOptional({ type: Number, description: 'epoch seconds, with expires_in_sec' })
  expires_at?: number;

  @ApiPropertyOptional({ type: String, description: 'for an override change' })
  symbol?: string;

  @ApiPropertyOptional({
    type: Boolean,
    description: 'rollback with nothing to undo: nothing was written',
  })
  unchanged?: boolean;
}

/** One audit ledger entry (docs/contract.md §4 Modes and the audit trail). */
export class LedgerEntryResponse implements LedgerEntry {
  @ApiProperty({ type: String, pattern: OPERATION_ID.source, example: 'OPS-2026-11-21-004' })
  operation_id!: string;

  @ApiProperty({ enum: OPERATION_NAMES })
  operation_name!: OperationName;

  @ApiProperty({ type: String, example: 'alice' })
  actor!: string;

  @ApiProperty({ type: String, example: 'global', description: '`global` or the symbol of an override' })
  scope!: string;

  @ApiProperty({ enum: MODES })
  from_mode!: Mode;

  @ApiProperty({ enum: MODES })
  to_mode!: Mode;

  @ApiProperty({ type: String })
  reason!: string;

  @ApiProperty({ enum: ['high', 'low'] })
  risk_class!: 'high' | 'low';

  @ApiProperty({ enum: ['applied'], description: 'refused requests write nothing' })
  outcome!: 'applied';

  @ApiPropertyOptional({
    type: String,
    description:
      'rollbacks only: operation_id of the newest enforce still in effect that this rollback undid',
  })
  rollback_of?: string;

  @ApiProperty({ type: 'integer' })
  version!: number;

  @ApiProperty({ type: String })
  git_commit!: string;

  @ApiProperty({ type: String })
  hostname!: string;

  @ApiProperty({ type: Number, description: 'epoch seconds' })
  timestamp!: number;

  @ApiProperty({ type: String, description: 'hash of the previous entry (64 zeros for the first)' })
  prev_hash!: string;

  @ApiPropertyOptional({
    type: String,
    description: 'signed ledger: first 16 hex of the SHA-256 of the signing public key (DER)',
  })
  signer?: string;

  @ApiProperty({ type: String, description: 'SHA-256 hex of this entry, prev_hash included' })
  hash!: string;

  @ApiPropertyOptional({ type: String, description: 'signed ledger: base64 Ed25519 signature over hash' })
  signature?: string;
}

/** `GET /ops/ledger`. */
export class LedgerPageResponse {
  @ApiProperty({ type: [LedgerEntryResponse], description: 'newest first' })
  entries!: LedgerEntryResponse[];

  @ApiPropertyOptional({
    type: String,
    description: 'pass as ?before= for the next (older) page; absent on the last',
  })
  next_before?: string;
}

export class ChainBreakResponse implements LedgerBreak {
  @ApiProperty({ type: String, nullable: true })
  operation_id!: string | null;

  @ApiProperty({ enum: BREAK_PROBLEMS })
  problem!: BreakProblem;

  @ApiProperty({ type: 'integer', description: '0-based position, oldest first' })
  index!: number;

  @ApiPropertyOptional({ type: String, description: 'Redis stream id' })
  stream_id?: string;

  @ApiProperty({ type: String })
  detail!: string;
}

/** `GET /ops/ledger/verify`. */
export class ChainReportResponse implements LedgerReport {
  @ApiProperty({ type: Boolean })
  ok!: boolean;

  @ApiProperty({ type: 'integer', description: 'entries checked' })
  entries!: number;

  @ApiProperty({ type: Boolean, description: 'signatures checked (LEDGER_SIGNING_KEY_FILE configured)' })
  signed!: boolean;

  @ApiProperty({ type: [ChainBreakResponse], description: 'every break, oldest first; empty when ok' })
  breaks!: ChainBreakResponse[];
}

/** `POST /ops/ledger/restore`. */
export class RestoreResultResponse implements RestoreResult {
  @ApiProperty({ type: 'integer', description: 'entries re-appended to Redis' })
  restored!: number;

  @ApiProperty({ type: Boolean, description: 'the mode state was rebuilt from the last entry' })
  state_restored!: boolean;

  @ApiProperty({ type: 'integer', description: 'entries in the mirror file' })
  entries!: number;

  @ApiProperty({ type: 'integer' })
  missing_in_redis!: number;
}
