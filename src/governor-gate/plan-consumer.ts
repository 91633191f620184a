import { isBusyGroup, isNoGroup } from '../platform/redis/redis-errors.js';
import { settledWithin, STOP_WAIT_MS } from '../platform/clock/bounded.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { HealthParts } from '../platform/observability/health-parts.js';
import { Metrics } from '../platform/observability/metrics.js';
import { Keys } from '../platform/redis/keys.js';
import type { RedisClient } from '../platform/redis/redis.factory.js';
import { RedisService } from '../platform/redis/redis.service.js';
import { GateService } from './gate.service.js';
import { LogRateLimiter } from '../platform/logging/log-rate-limiter.js';
import { parsePlanEntry } from './plan-parser.js';
import { PlanOutcomeRepository } from './plan-outcome.repository.js';
import type { PlanInput } from './gate.types.js';

export interface PlanConsumerOptions {
  /** Entries per XREADGROUP / XAUTOCLAIM call. */
  batchSize: number;
  /** XREADGROUP BLOCK: also the longest a stop waits for the read to return. */
  blockMs: number;
  /** A pending entry idle this long belongs to a consumer presumed dead and is claimed. */
  claimIdleMs: number;
  /** How often pending entries are looked for. */
  claimEveryMs: number;
  /**
   * Plans of a batch judged at the same time. Default: the whole batch on a single Redis (its
   * reads share one pipeline), CLUSTER_MAX_IN_FLIGHT on a cluster.
   */
  maxInFlight?: number;
}

const DEFAULT_CONSUMER_OPTIONS: PlanConsumerOptions = {
  batchSize: 100,
  blockMs: 1000,
  claimIdleMs: 30_000,
  claimEveryMs: 5_000,
};

/**
 * On a cluster every decision is six separate commands (its keys live on several nodes, so they
 * cannot share a script or pipeline). A whole batch judged at once puts 600 commands on the gate's
 * connections, and each decision's GATE_TIMEOUT_MS runs while it waits behind the others: on a
 * busy host some of a burst failed open with `timeout` (over-budget plans permitted). Bounding
 * the decisions in flight keeps each one's wait to its own round trip.
 */
export const CLUSTER_MAX_IN_FLIGHT = 16;

type StreamEntry = [id: string, fields: string[]];
type Outcome = 'permit' | 'block' | 'duplicate' | 'skipped' | 'invalid' | 'error';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Gate 0 over the `apply.plan` stream (GATE_CONSUME_PLANS), in consumer group `p28-gate` so that
 * replicas share the work. Each EXECUTE plan is judged by GateService and gets a permit or a block
 * record plus a governor event, written and acknowledged atomically (PlanOutcomeRepository).
 * At-least-once: entries a dead consumer read but never acknowledged are claimed after
 * `claimIdleMs`; the atomic outcome write makes a second delivery harmless.
 */
@Injectable()
export class PlanConsumer implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PlanConsumer');
  private readonly logLimiter = new LogRateLimiter(10_000, undefined, (kind) =>
    this.metrics.logSuppressed.labels(kind).inc(),
  );
  /** Unique per replica and per process start, so a restarted process never inherits a dead name's entries by accident. */
  readonly consumerName = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private options: PlanConsumerOptions = DEFAULT_CONSUMER_OPTIONS;
  private blocking?: RedisClient;
  private loopDone?: Promise<void>;
  private stopping = false;
  private lastClaimAt = 0;
  private processed = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly gate: GateService,
    private readonly outcomes: PlanOutcomeRepository,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly parts: HealthParts,
    private readonly config: AppConfig,
  ) {}

  onModuleInit() {
    this.parts.add('plan_consumer', () => ({
      ok: true,
      // open /health: no hostname:pid (the consumer name is in the logs and in XINFO CONSUMERS)
      detail: { enabled: this.running, processed: this.processed },
    }));
  }

  onApplicationBootstrap() {
    if (this.config.GATE_CONSUME_PLANS) this.start();
  }

  async beforeApplicationShutdown() {
    await this.stop();
  }

  get running(): boolean {
    return this.loopDone !== undefined;
  }

  /** Starts the loop (idempotent). Tests pass shorter claim times. */
  start(options: Partial<PlanConsumerOptions> = {}): void {
    if (this.loopDone) return;
    this.options = { ...DEFAULT_CONSUMER_OPTIONS, ...options };
    this.stopping = false;
    this.lastClaimAt = 0;
    // XREADGROUP BLOCK holds its connection: it gets its own, with a timeout longer than the block
    this.blocking = this.redis.dedicated('gate-consumer', {
      commandTimeout: this.options.blockMs + this.config.REDIS_COMMAND_TIMEOUT_MS,
    });
    this.loopDone = this.loop().finally(() => (this.loopDone = undefined));
    this.logger.log({
      msg: 'plan consumer started',
      consumer: this.consumerName,
      group: Keys.planConsumerGroup,
    });
  }

  /** Stops reading, lets the in-flight batch finish (bounded), and closes the blocking connection. */
  async stop(): Promise<void> {
    if (!this.loopDone) return;
    this.stopping = true;
    // closing the connection makes a pending XREADGROUP return at once instead of after blockMs
    this.blocking?.disconnect();
    const done = this.loopDone;
    await settledWithin(done, STOP_WAIT_MS);
    this.logger.log({ msg: 'plan consumer stopped', consumer: this.consumerName, processed: this.processed });
  }

  private async loop(): Promise<void> {
    let groupReady = false;
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!groupReady) {
          await this.ensureGroup();
          groupReady = true;
        }
        if (performance.now() - this.lastClaimAt >= this.options.claimEveryMs) {
          this.lastClaimAt = performance.now();
          await this.claimPending();
        }
        const entries = await this.readNew();
        if (entries.length > 0) await this.processBatch(entries);
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        const message = (err as Error).message;
        if (isNoGroup(err as Error)) groupReady = false;
        failures++;
        if (this.logLimiter.take('loop_error') !== undefined) {
          this.logger.warn({
            msg: 'plan consumer error, retrying',
            error: message,
            consumer: this.consumerName,
          });
        }
        await sleep(Math.min(100 * 2 ** Math.min(failures, 5), 2000));
      }
    }
  }

  /**
   * Creates the group at `$`: a newly deployed gate judges plans published from then on, not the
   * stream's history (old plans would get permits nobody asked for). After that the group's
   * position survives restarts. BUSYGROUP (it exists) is the normal case.
   */
  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.client.xgroup('CREATE', Keys.planStream, Keys.planConsumerGroup, '$', 'MKSTREAM');
    } catch (err) {
      if (!isBusyGroup(err as Error)) throw err;
    }
  }

  private async readNew(): Promise<StreamEntry[]> {
    const c = this.blocking as RedisClient;
    const res = (await c.xreadgroup(
      'GROUP',
      Keys.planConsumerGroup,
      this.consumerName,
      'COUNT',
      this.options.batchSize,
      'BLOCK',
      this.options.blockMs,
      'STREAMS',
      Keys.planStream,
      '>',
    )) as [string, StreamEntry[]][] | null;
    return res?.[0]?.[1] ?? [];
  }

  /** Takes over entries idle past `claimIdleMs` (their consumer died or stalled) and processes them. */
  private async claimPending(): Promise<void> {
    let cursor = '0-0';
    for (let round = 0; round < 100 && !this.stopping; round++) {
      const [next, entries] = (await this.redis.client.xautoclaim(
        Keys.planStream,
        Keys.planConsumerGroup,
        this.consumerName,
        this.options.claimIdleMs,
        cursor,
        'COUNT',
        this.options.batchSize,
      )) as [string, (StreamEntry | null)[], string[]?];
      // Redis 6.2 returns trimmed entries as nulls; 7 drops them from the PEL itself
      const live = entries.filter((e): e is StreamEntry => e !== null && Array.isArray(e[1]));
      if (live.length > 0) {
        this.logger.log({ msg: 'claimed pending plans', count: live.length, consumer: this.consumerName });
        await this.processBatch(live);
      }
      if (next === '0-0') return;
      cursor = next;
    }
  }

  /** Judges a batch concurrently (each read bounded by the gate), then writes each outcome. */
  async processBatch(entries: StreamEntry[]): Promise<void> {
    const skipped: string[] = [];
    const plans: Array<[string, PlanInput]> = [];
    for (const [id, fields] of entries) {
      const parsed = parsePlanEntry(fields);
      if (parsed.kind === 'plan') {
        plans.push([id, parsed.plan]);
        continue;
      }
      skipped.push(id);
      if (parsed.kind === 'invalid') {
        this.count('invalid');
        // whoever writes the stream sets this volume: one line per interval, the metric counts all
        const held = this.logLimiter.take('invalid_plan');
        if (held !== undefined) {
          this.logger.warn({
            msg: 'unusable EXECUTE plan acknowledged',
            problem: parsed.problem,
            plan_id: parsed.plan_id,
            entry_id: id,
            suppressed_since_last: held,
          });
        }
      } else {
        this.count('skipped');
      }
    }
    const acked = this.outcomes.ack(skipped).catch((err: unknown) => {
      this.logger.warn({
        msg: 'could not acknowledge skipped plans',
        error: (err as Error).message,
        count: skipped.length,
      });
    });
    const limit =
      this.options.maxInFlight ??
      (this.redis.topology.crossSlotScripts ? this.options.batchSize : CLUSTER_MAX_IN_FLIGHT);
    await Promise.all([acked, inPool(plans, Math.max(1, limit), ([id, plan]) => this.handle(id, plan))]);
  }

  private async handle(id: string, plan: PlanInput): Promise<Outcome> {
    try {
      const d = await this.gate.evaluate(plan);
      const wrote = await this.outcomes.write(id, plan, d, this.clock.nowSec());
      const outcome: Outcome = !wrote ? 'duplicate' : d.decision === 'BLOCK' ? 'block' : 'permit';
      return this.count(outcome);
    } catch (err) {
      // not acknowledged: the entry stays pending and is claimed again after claimIdleMs
      if (this.logLimiter.take('write_error') !== undefined) {
        this.logger.warn({
          msg: 'could not record a plan outcome',
          error: (err as Error).message,
          plan_id: plan.plan_id,
          symbol: plan.symbol,
        });
      }
      return this.count('error');
    }
  }

  private count(outcome: Outcome): Outcome {
    this.processed++;
    this.metrics.plansConsumed.inc({ outcome });
    return outcome;
  }
}

/**
 * Runs `fn` over `items` with at most `limit` calls pending. The first `limit` calls start in the
 * caller's turn, so with limit >= items.length this is exactly "start them all at once".
 */
async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
