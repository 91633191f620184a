import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { MODES, type Mode } from '../platform/config/index.js';
import { Clock } from '../platform/clock/clock.js';
import { ModeReader } from '../platform/mode/mode-reader.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { HealthParts } from '../platform/observability/health-parts.js';
import { LoopHealthIndicator } from './loop.health.js';
import { LoopHeartbeat } from '../platform/observability/loop-heartbeat.js';
import { REDIS_PING_TIMEOUT_MS, RedisHealthIndicator } from './redis.health.js';

const SERVICE_NAME = 'p2.8-portfolio-risk-governor';

const seconds = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.round(ms / 100) / 10;

/** The /health body (documentation only). Parts added through HealthParts appear as extra fields. */
class HealthBodyResponse {
  @ApiProperty({ enum: ['healthy', 'degraded', 'unhealthy'] })
  status!: 'healthy' | 'degraded' | 'unhealthy';

  @ApiProperty({ type: String, example: SERVICE_NAME })
  service!: string;

  @ApiProperty({ enum: MODES, description: "this replica's view of the global mode" })
  mode!: Mode;

  @ApiProperty({ type: 'integer' })
  mode_version!: number;

  @ApiProperty({ enum: ['connected', 'disconnected'] })
  redis!: 'connected' | 'disconnected';

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'seconds since the budget loop last ran on this replica; null before its first run',
  })
  budget_loop_last_run_age_sec!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      "seconds since budgets were last written successfully (the leader's write, on a follower); null before any",
  })
  budget_last_success_age_sec!: number | null;

  @ApiPropertyOptional({ type: [String], example: ['redis'], description: 'the failing parts (503 only)' })
  failing?: string[];

  @ApiPropertyOptional({
    type: [String],
    example: ['budget_engine: no successful budget write within 30 s while symbols are budgeted'],
    description: 'why the gate cannot enforce as configured (status `degraded`, still 200)',
  })
  degraded?: string[];
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly terminus: HealthCheckService,
    private readonly redisIndicator: RedisHealthIndicator,
    private readonly loopIndicator: LoopHealthIndicator,
    private readonly redis: RedisService,
    private readonly mode: ModeReader,
    private readonly heartbeat: LoopHeartbeat,
    private readonly parts: HealthParts,
    private readonly clock: Clock,
  ) {}

  /** The contract's summary body; 503 naming every failing part. */
  @Get()
  @ApiOperation({
    summary: 'Service health summary',
    description: 'Open. Other parts (e.g. the ledger mirror) add their own fields.',
  })
  @ApiOkResponse({ type: HealthBodyResponse, description: 'healthy' })
  @ApiServiceUnavailableResponse({
    type: HealthBodyResponse,
    description: '`status: unhealthy`, `failing` names every failing part (e.g. redis)',
  })
  async health() {
    // the open endpoint names the failing part only: raw Redis error text stays in the logs
    let redisUp = true;
    try {
      await this.redis.ping(REDIS_PING_TIMEOUT_MS);
    } catch {
      redisUp = false;
    }
    const view = this.mode.current();
    const now = this.clock.nowMs();
    const extra = await this.parts.collect();
    const failing = [
      ...(redisUp ? [] : ['redis']),
      ...Object.entries(extra)
        .filter(([, p]) => !p.ok)
        .map(([name]) => name),
    ];
    const degraded = Object.entries(extra)
      .filter(([, p]) => p.ok && p.degraded)
      .map(([name, p]) => `${name}: ${p.degraded}`);
    const body = {
      status: failing.length > 0 ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'healthy',
      service: SERVICE_NAME,
      mode: view.mode,
      mode_version: view.version,
      redis: redisUp ? 'connected' : 'disconnected',
      budget_loop_last_run_age_sec: seconds(this.heartbeat.ageMs(now)),
      budget_last_success_age_sec: seconds(this.heartbeat.successAgeMs(now)),
      ...Object.fromEntries(Object.entries(extra).map(([name, p]) => [name, p.detail])),
      ...(failing.length ? { failing } : {}),
      ...(degraded.length ? { degraded } : {}),
    };
    if (failing.length) throw new HttpException(body, HttpStatus.SERVICE_UNAVAILABLE);
    return body;
  }

  /** Liveness: the process answers. Redis being down is not a reason to restart us. */
  @Get('live')
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness probe',
    description: 'Open. Up while the process answers, Redis or not.',
  })
  live() {
    return this.terminus.check([]);
  }

  /**
   * Readiness: Redis answers PING and budgets were written successfully within 3 intervals (or the
   * gate's budget max age, when shorter).
   */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness probe',
    description:
      'Open. Ready when Redis answers PING, the budget loop ran within 3 intervals and the last successful ' +
      "budget write (the leader's, on a follower) is within 3 intervals, or GATE_BUDGET_MAX_AGE_SEC when shorter; else 503.",
  })
  ready() {
    return this.terminus.check([() => this.redisIndicator.isHealthy(), () => this.loopIndicator.isHealthy()]);
  }
}
