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
import { MODES, type Mode } from '../../config/index.js';
import { OPERATION_ID } from '../ledger/ledger-entry.js';
import { MAX_EXPIRY_SEC } from '../mode/mode-change.js';

/** Symbols as the trading system writes them (BTCUSDT, 1000PEPEUSDT): upper-cased before the check. */
export const SYMBOL = /^[A-Z0-9]{2,30}$/;
/** Printable text plus tab, newline and CR; other control characters would garble logs and the ledger. */
const hasControlChars = (s: string): boolean =>
  [...s].some((ch) => {
    const c = ch.charCodeAt(0);
    return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f;
  });

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
    return `${args.property} must not contain control characters`;
  }
}

class ReasonFields {
  @ApiProperty({ minLength: 3, maxLength: 500, description: 'why; recorded in the ledger' })
  @Transform(trim)
  @IsString({ message: 'reason must be a string' })
  @Length(3, 500, { message: 'reason must be 3 to 500 characters (after trimming)' })
  @Validate(NoControlCharsConstraint)
  reason!: string;
}

@ValidatorConstraint({ name: 'enforceOnly' })
class EnforceOnlyConstraint implements ValidatorConstraintInterface {
  validate(_: unknown, args: ValidationArguments) {
    const o = args.object as ChangeModeDto;
    return o.mode === 'enforce' && o.symbol === undefined;
  }
  defaultMessage() {
    return 'expires_in_sec is only allowed with "mode": "enforce" and no symbol';
  }
}

/** `PUT /ops/mode` (CONTRACT.md §5). */
export class ChangeModeDto extends ReasonFields {
  // null is only meaningful with a symbol: it clears that symbol's override
  @ApiProperty({ enum: MODES, nullable: true, description: 'null (with symbol) clears that override' })
  @ValidateIf((o: ChangeModeDto) => !(o.mode === null && o.symbol !== undefined))
  @IsIn(MODES, { message: 'mode must be "enforce" or "shadow" (null, with a symbol, clears its override)' })
  mode!: Mode | null;

  @ApiPropertyOptional({ minimum: 0, description: 'compare-and-set: refused with 409 unless current' })
  @IsOptional()
  @IsInt({ message: 'expected_version must be an integer' })
  @Min(0, { message: 'expected_version must be >= 0' })
  @Max(Number.MAX_SAFE_INTEGER)
  expected_version?: number;

  @ApiPropertyOptional({ pattern: SYMBOL.source, description: 'a per-symbol override (upper-cased)' })
  @IsOptional()
  @Transform(upper)
  @IsString({ message: 'symbol must be a string' })
  @Matches(SYMBOL, { message: 'symbol must be 2-30 letters or digits (e.g. BTCUSDT)' })
  symbol?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_EXPIRY_SEC, description: 'global enforce only' })
  @IsOptional()
  @IsInt({ message: 'expires_in_sec must be an integer' })
  @Min(1, { message: 'expires_in_sec must be >= 1' })
  @Max(MAX_EXPIRY_SEC, { message: `expires_in_sec must be <= ${MAX_EXPIRY_SEC} (7 days)` })
  @Validate(EnforceOnlyConstraint)
  expires_in_sec?: number;
}

/** `POST /ops/rollback`. */
export class RollbackDto extends ReasonFields {}

/** `GET /ops/ledger` query. */
export class LedgerQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be >= 1' })
  @Max(1000, { message: 'limit must be <= 1000' })
  limit?: number;

  @ApiPropertyOptional({ description: 'an operation_id: entries older than it (exclusive)' })
  @IsOptional()
  @IsString({ message: 'before must be a single operation_id' })
  @Matches(OPERATION_ID, { message: 'before must be an operation_id (OPS-YYYY-MM-DD-NNN)' })
  before?: string;
}
