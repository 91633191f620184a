import { topologyOf, type Topology } from './topology.js';
import { rejectAfter, settledWithin } from '../clock/bounded.js';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { RedisOptions } from 'ioredis';
import { AppConfig } from '../config/index.js';
import { createRedisClient, type RedisClient } from './redis.factory.js';

export type ConnectionState = 'connecting' | 'ready' | 'reconnecting' | 'down' | 'closed';

/**
 * Owns the process's Redis connections: the shared command client plus any dedicated ones
 * (gate hot path, pub/sub subscriber, blocking stream reads) made with `dedicated()`.
 * Tracks the shared client's state for health and logs state changes once, not per retry.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly client: RedisClient;
  private readonly extra = new Set<RedisClient>();
  private state: ConnectionState = 'connecting';
  private lastError?: string;

  constructor(private readonly config: AppConfig) {
    this.client = createRedisClient(config);
    this.track(this.client, 'main');
  }

  get connectionState(): ConnectionState {
    return this.state;
  }
  get lastErrorMessage(): string | undefined {
    return this.lastError;
  }
  isReady(): boolean {
    return this.client.status === 'ready';
  }
  get topology(): Topology {
    return topologyOf(this.config);
  }
  get isCluster(): boolean {
    return this.topology.kind === 'cluster';
  }

  /** A new connection to the same Redis, closed with the app. */
  dedicated(name: string, overrides: RedisOptions = {}): RedisClient {
    const c = createRedisClient(this.config, { connectionName: `p28-${name}`, ...overrides });
    this.extra.add(c);
    c.on('error', () => undefined); // state and errors are reported by the main client
    return c;
  }

  /** PING bounded by `timeoutMs`; resolves with the round-trip time, rejects on error or timeout. */
  async ping(timeoutMs: number): Promise<number> {
    const started = performance.now();
    await rejectAfter(this.client.ping(), timeoutMs, () => new Error(`PING timed out after ${timeoutMs} ms`));
    return performance.now() - started;
  }

  private track(c: RedisClient, name: string) {
    const set = (next: ConnectionState, detail?: string) => {
      if (next === this.state) return;
      const prev = this.state;
      this.state = next;
      const line = { msg: `redis ${name} ${prev} -> ${next}`, from: prev, to: next, error: detail };
      if (next === 'ready') this.logger.log(line);
      else this.logger.warn(line);
    };
    c.on('ready', () => {
      this.lastError = undefined;
      set('ready');
    });
    c.on('error', (err: Error) => {
      this.lastError = err.message;
      if (this.state === 'ready' || this.state === 'connecting') set('down', err.message);
    });
    c.on('close', () => set('down', this.lastError));
    c.on('reconnecting', () => {
      if (this.state !== 'down') set('reconnecting');
    });
    c.on('end', () => set('closed'));
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.extra, this.client];
    await Promise.all(
      all.map(async (c) => {
        try {
          await settledWithin(c.quit(), 1000);
        } catch {
          /* already closed */
        }
        c.disconnect();
      }),
    );
  }
}
