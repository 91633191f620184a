import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/index.js';

export type RedisClient = Redis | Cluster;

/** Reconnect backoff: 50 ms doubling to a 2 s ceiling, forever (the service stays up while Redis is down). */
const reconnectBackoff = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

function hostPort(entry: string): { host: string; port: number } {
  const i = entry.lastIndexOf(':');
  return { host: entry.slice(0, i), port: Number(entry.slice(i + 1)) };
}

/**
 * Builds an ioredis client for the configured topology: a cluster (REDIS_CLUSTER_NODES), a Sentinel
 * group (REDIS_SENTINELS + REDIS_SENTINEL_NAME) or a single server (REDIS_URL).
 */
export function createRedisClient(config: AppConfig, overrides: RedisOptions = {}): RedisClient {
  const base: RedisOptions = {
    retryStrategy: reconnectBackoff,
    maxRetriesPerRequest: 1,
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    enableReadyCheck: true,
    ...overrides,
  };
  if (config.REDIS_CLUSTER_NODES?.length) {
    const { enableOfflineQueue, ...redisOptions } = base;
    const options: ClusterOptions = {
      redisOptions,
      enableOfflineQueue: enableOfflineQueue ?? true,
      clusterRetryStrategy: reconnectBackoff,
      maxRedirections: 8,
    };
    return new Cluster(config.REDIS_CLUSTER_NODES.map(hostPort), options);
  }
  if (config.REDIS_SENTINELS?.length) {
    const url = new URL(config.REDIS_URL);
    return new Redis({
      ...base,
      sentinels: config.REDIS_SENTINELS.map(hostPort),
      name: config.REDIS_SENTINEL_NAME,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: Number(url.pathname.slice(1) || 0),
      sentinelRetryStrategy: reconnectBackoff,
      // Sentinel disconnects the old master's clients only when it demotes it (~10 s after a
      // failover); until then writes land on the old master and are later discarded. Follow
      // +switch-master instead.
      failoverDetector: true,
    });
  }
  return new Redis(config.REDIS_URL, base);
}
