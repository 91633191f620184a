import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';

import { MODES, type Mode } from '../../core/mode.js';

// one vocabulary of modes (src/core/mode.ts); P28_MODE may seed any of them
export { MODES, type Mode };

const GATE_AUTH_MODES = ['optional', 'required'] as const;
export type GateAuth = (typeof GATE_AUTH_MODES)[number];

const toBool = ({ value }: { value: unknown }) => {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  return value; // left as a string so IsBoolean names the variable
};

const toList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
    : value;

@ValidatorConstraint({ name: 'redisUrl' })
class RedisUrlConstraint implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (typeof value !== 'string') return false;
    try {
      const u = new URL(value);
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname.length > 0;
    } catch {
      return false;
    }
  }
  defaultMessage() {
    return 'REDIS_URL must be a redis:// or rediss:// URL with a host';
  }
}

const HOST_PORT = /^[^\s:,]+:\d{1,5}$/;

@ValidatorConstraint({ name: 'hostPortList' })
class HostPortListConstraint implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return Array.isArray(value) && value.every((v) => typeof v === 'string' && HOST_PORT.test(v));
  }
  defaultMessage() {
    return '$property must be a comma-separated list of host:port';
  }
}

/**
 * Every environment variable of docs/contract.md, validated once at boot and injected as `AppConfig`.
 * Defaults here are the contract's; `.env.example` documents each one.
 */
export class AppConfig {
  // --- HTTP ---
  @Type(() => Number) @IsInt() @Min(1) @Max(65535) PORT = 8049;
  /** Loopback by default: other hosts reach the service only where an operator opens it. */
  @IsString() @Matches(/^[0-9A-Za-z.:-]+$/) HOST = '127.0.0.1';
  /** Any case: the original env file writes `INFO`. */
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  // --- Redis ---
  @Validate(RedisUrlConstraint) REDIS_URL = 'redis://127.0.0.1:6379/0';
  @IsOptional() @Transform(toList) @Validate(HostPortListConstraint) REDIS_SENTINELS?: string[] = undefined;
  @IsString() REDIS_SENTINEL_NAME = 'mymaster';
  @IsOptional() @Transform(toList) @Validate(HostPortListConstraint) REDIS_CLUSTER_NODES?: string[] =
    undefined;
  @Type(() => Number) @IsInt() @Min(100) @Max(60000) REDIS_COMMAND_TIMEOUT_MS = 2000;
  /** Replicas that must acknowledge a ledger write (WAIT) before it is reported done; 1 under Sentinel. */
  @Type(() => Number) @IsInt() @Min(0) @Max(10) REDIS_WAIT_REPLICAS = 0;
  @Type(() => Number) @IsInt() @Min(10) @Max(60000) REDIS_WAIT_TIMEOUT_MS = 1000;

  // --- mode ---
  @IsIn(MODES) P28_MODE: Mode = 'shadow';
  @Transform(toBool) @IsBoolean() P28_TEST_MODE = false;
  @Type(() => Number) @IsInt() @Min(50) @Max(10000) MODE_REFRESH_MS = 500;

  // --- budget engine ---
  @Type(() => Number) @IsNumber() @Min(0.1) @Max(3600) BUDGET_COMPUTE_INTERVAL_SEC = 10;
  @Type(() => Number) @IsNumber() @Min(0) @Max(1) ALPHA_HEAT = 0.4;
  @Type(() => Number) @IsNumber() @Min(0) @Max(1) BETA_CLUSTER = 0.4;
  @Type(() => Number) @IsNumber() @Min(0) @Max(1) GAMMA_VOL = 0.2;
  @Type(() => Number) @IsNumber() @Min(0.000001) @Max(1) BASE_RISK_PCT = 0.02;
  @Type(() => Number) @IsNumber() @Min(0) MIN_BUDGET_USD = 500;
  @Type(() => Number) @IsNumber() @Min(0) MAX_BUDGET_USD = 10000;
  @Type(() => Number) @IsNumber() @Min(1) STALE_SEC = 30;
  @Type(() => Number) @IsNumber() @Min(1) MAX_LKG_AGE_SEC = 900;
  @Type(() => Number) @IsInt() @Min(1) BUDGET_HASH_TTL_SEC = 300;
  @Type(() => Number) @IsInt() @Min(1) VIOLATION_STREAM_MAXLEN = 10000;
  @Type(() => Number) @IsInt() @Min(1) VIOLATION_HASH_TTL_SEC = 120;
  @IsString() HEAT_GATE_METRICS_URL = 'http://localhost:8056/metrics';
  @Matches(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/) HEAT_METRIC_NAME = 'p26_heat_value';
  @Type(() => Number) @IsInt() @Min(10) @Max(60000) HEAT_TIMEOUT_MS = 2000;
  @Transform(toList) @IsString({ each: true }) POSITION_KEY_PATTERNS = [
    'quantum:state:positions:*',
    'quantum:position:snapshot:*',
  ];
  @Type(() => Number) @IsInt() @Min(1000) LEADER_LEASE_MS = 30000;
  /** Cluster and volatility inputs older than this (by their own timestamps) are stale. */
  @Type(() => Number) @IsNumber() @Min(1) INPUT_MAX_AGE_SEC = 300;
  /** Symbols budgeted even when flat and without a market-state key. */
  @Transform(toList) @IsString({ each: true }) BUDGET_UNIVERSE: string[] = [];

  // --- Gate 0 ---
  @Type(() => Number) @IsNumber() @Min(1) GATE_BUDGET_MAX_AGE_SEC = 60;
  @Type(() => Number) @IsNumber() @Min(1) GATE_VIOLATION_WINDOW_SEC = 30;
  @Type(() => Number) @IsInt() @Min(1) @Max(10000) GATE_TIMEOUT_MS = 50;
  @Transform(toBool) @IsBoolean() GATE_CONSUME_PLANS = false;
  @Type(() => Number) @IsInt() @Min(1) SHADOW_STREAM_MAXLEN = 10000;
  @Type(() => Number) @IsInt() @Min(1) GOVERNOR_EVENTS_MAXLEN = 10000;
  /** Caps of the decision log `quantum:p28:decisions` (docs/contract.md §7): entries, and age. */
  @Type(() => Number) @IsInt() @Min(1) DECISION_LOG_MAXLEN = 200000;
  @Type(() => Number) @IsInt() @Min(1) DECISION_LOG_MAX_AGE_SEC = 604800;
  /** `optional`: a caller without a token gets a bare decision and leaves no record; `required`: 401. */
  @IsIn(GATE_AUTH_MODES) GATE_AUTH: GateAuth = 'optional';

  // --- ops / audit ---
  @Transform(toList) @IsString({ each: true }) OPS_API_TOKENS: string[] = [];
  @IsOptional() @IsString() LEDGER_FILE?: string = undefined;
  /** Put entries the mirror holds back into Redis as soon as Redis is seen to lack them. */
  @Transform(toBool) @IsBoolean() LEDGER_AUTO_RESTORE = true;
  /** Ed25519 private key (PEM) this replica signs ledger entries with; unset: entries are unsigned. */
  @IsOptional() @IsString() LEDGER_SIGNING_KEY_FILE?: string = undefined;
  /** Public keys (PEM blocks) whose ledger signatures this replica accepts. */
  @IsOptional() @IsString() LEDGER_TRUSTED_KEYS_FILE?: string = undefined;
  @IsString() GIT_COMMIT = 'unknown';
}
