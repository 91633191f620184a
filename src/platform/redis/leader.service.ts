import { runScript } from './scripts.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/index.js';
import { Metrics } from '../observability/metrics.js';
import { Keys } from './keys.js';
import { RedisService } from './redis.service.js';

// Renew and release only our own lease: compare the holder id before touching the key.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {1, 0} end return {0, redis.call('PTTL', KEYS[1])}`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A Redis lease (`SET NX PX`) that makes exactly one replica the leader: it computes budgets and
 * runs mode expiries. The holder renews every third of the lease; a replica that cannot renew
 * stops believing it leads before the lease runs out, so two leaders never overlap. Another
 * replica takes over within one lease period of the leader's death.
 */
@Injectable()
export class LeaderService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Leader');
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private leading = false;
  private validUntil = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly listeners = new Set<(leading: boolean) => void>();

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  get leaseMs(): number {
    return this.config.LEADER_LEASE_MS;
  }

  onModuleInit() {
    this.metrics.leader.set(0);
    void this.cycle();
  }

  /** True while this replica holds an unexpired lease (judged by the local clock, with margin). */
  isLeader(): boolean {
    return this.leading && performance.now() < this.validUntil;
  }

  onChange(fn: (leading: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private inFlight?: Promise<boolean>;
  private holderPttl?: number;

  /**
   * One acquire-or-renew attempt; exposed so a scheduler can refresh right before a tick.
   * Single-flight: two concurrent SET NX from this replica would make the loser drop a lease it holds.
   */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.attempt().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async attempt(): Promise<boolean> {
    if (this.stopped) return false;
    const started = performance.now();
    try {
      const c = this.redis.client;
      let ok: boolean;
      if (this.leading) {
        ok = (await runScript(c, RENEW_SCRIPT, 1, Keys.leaderLease, this.id, String(this.leaseMs))) === 1;
      } else {
        // SET NX and the holder's remaining time in one script, so the next try lands right at expiry
        const [won, pttl] = (await runScript(
          c,
          ACQUIRE_SCRIPT,
          1,
          Keys.leaderLease,
          this.id,
          String(this.leaseMs),
        )) as [number, number];
        ok = won === 1;
        this.holderPttl = ok ? undefined : pttl;
      }
      // count validity from before the request: the server's expiry started no earlier than that
      if (ok) this.validUntil = started + this.leaseMs * 0.9;
      this.set(ok);
    } catch (err) {
      if (this.leading && performance.now() >= this.validUntil) this.set(false);
      this.logger.debug({ msg: 'lease refresh failed', error: (err as Error).message });
    }
    return this.isLeader();
  }

  /** Stops renewing without releasing: what a crashed leader looks like to the others (tests). */
  abandon() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.set(false);
  }

  async onApplicationShutdown() {
    const was = this.leading;
    this.abandon();
    if (!was) return;
    try {
      await runScript(this.redis.client, RELEASE_SCRIPT, 1, Keys.leaderLease, this.id);
      this.logger.log({ msg: 'lease released', holder: this.id });
    } catch (err) {
      this.logger.warn({ msg: 'lease release failed; it expires by itself', error: (err as Error).message });
    }
  }

  private async cycle() {
    await this.refresh();
    if (this.stopped) return;
    // the holder renews every third of the lease; followers try often enough that a dead
    // leader's lease is taken within one lease period of its last renewal
    const poll = this.leaseMs / 10;
    const every = this.leading
      ? this.leaseMs / 3
      : this.holderPttl !== undefined && this.holderPttl >= 0
        ? Math.min(poll, this.holderPttl + 5)
        : poll;
    this.timer = setTimeout(() => void this.cycle(), Math.max(5, Math.floor(every)));
    this.timer.unref();
  }

  private set(leading: boolean) {
    if (leading === this.leading) return;
    this.leading = leading;
    this.metrics.leader.set(leading ? 1 : 0);
    this.logger.log({ msg: leading ? 'became leader' : 'lost leadership', holder: this.id });
    for (const fn of this.listeners) fn(leading);
  }
}

const RENEW_SCRIPT = { name: 'p28LeaseRenew', lua: RENEW };
const ACQUIRE_SCRIPT = { name: 'p28LeaseAcquire', lua: ACQUIRE };
const RELEASE_SCRIPT = { name: 'p28LeaseRelease', lua: RELEASE };
