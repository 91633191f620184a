/** What the configured Redis allows, so features ask a question instead of branching on its kind. */
export interface Topology {
  readonly kind: 'single' | 'sentinel' | 'cluster';
  /** One Lua script or MULTI may touch keys of different hash slots (not on a Cluster). */
  readonly crossSlotScripts: boolean;
  /** WAIT for replicas means "this write survives a failover" (a Sentinel or single master). */
  readonly replicaWait: boolean;
}

export function topologyOf(config: {
  REDIS_CLUSTER_NODES?: readonly string[];
  REDIS_SENTINELS?: readonly string[];
}): Topology {
  if (config.REDIS_CLUSTER_NODES?.length)
    return { kind: 'cluster', crossSlotScripts: false, replicaWait: false };
  const kind = config.REDIS_SENTINELS?.length ? 'sentinel' : 'single';
  return { kind, crossSlotScripts: true, replicaWait: true };
}
