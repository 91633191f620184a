import { Injectable } from '@nestjs/common';
import { Keys } from '../../platform/redis/keys.js';
import type { Batch, Reply } from '../../platform/redis/batch.js';
import { clamp01, judgeAge, type Ages, type Reading, type StaleInputs } from './reading.js';
import { parseNumber, type Parsed } from '../../core/numbers.js';

/** What the first read returns: membership plus the two portfolio-wide fallbacks. */
export interface ClusterMap {
  /** symbol → the clusters listing it (a symbol in several takes the most stressed). */
  clustersOf: Map<string, string[]>;
  portfolioWide: Stress;
  legacy: Stress;
  /** Cluster ids whose membership JSON was unusable. */
  badClusters: string[];
}

/** A stress value judged with its `updated_ts`: `stale` is a value too old to use. */
type Stress = Parsed | { ok: false; why: 'stale' };

/** HMGET [stress field, updated_ts]: the cluster service sets no TTL, so the age is its own. */
const readStress = (reply: Reply, ages: Ages): Stress => {
  const [err, v] = reply;
  if (err || !Array.isArray(v)) return { ok: false, why: err ? 'garbage' : 'missing' };
  const p = parseNumber(v[0], 'nonNegative');
  if (!p.ok) return p;
  const age = judgeAge(v[1], ages);
  if (age === 'stale') return { ok: false, why: 'stale' };
  return age === 'garbage' ? { ok: false, why: 'garbage' } : p;
};
const STRESS_FIELDS = ['stress', 'updated_ts'];
const WIDE_FIELDS = ['cluster_stress', 'updated_ts'];
const unusable = (p: Stress) => !p.ok && p.why !== 'missing';

/**
 * Cluster stress per symbol (docs/contract.md §1 Inputs): the symbol's cluster `stress`
 * (`quantum:portfolio:cluster_state:{ID}`, membership in `quantum:portfolio:clusters`), else the
 * portfolio-wide `cluster_stress`, else the legacy default key, else 0 (counted stale). A value
 * whose `updated_ts` is older than INPUT_MAX_AGE_SEC is stale: counted and skipped for the next
 * source. Two reads, because the per-cluster keys are only known once the membership hash is read.
 */
@Injectable()
export class ClusterStressReader {
  planMap(plan: Batch, ages: Ages): (stale: StaleInputs) => ClusterMap {
    const clusters = plan.add(['hgetall', Keys.clusters]);
    const wide = plan.add(['hmget', Keys.portfolioClusterState, ...WIDE_FIELDS]);
    const legacy = plan.add(['hmget', Keys.legacyClusterStress, ...STRESS_FIELDS]);
    return (stale) => {
      const map = ClusterStressReader.parseMembership(clusters());
      for (const id of map.badClusters) stale.add('cluster', `membership of ${id}`);
      const portfolioWide = readStress(wide(), ages);
      const legacyStress = readStress(legacy(), ages);
      if (unusable(portfolioWide)) stale.add('cluster', Keys.portfolioClusterState);
      if (unusable(legacyStress)) stale.add('cluster', Keys.legacyClusterStress);
      return { ...map, portfolioWide, legacy: legacyStress };
    };
  }

  static parseMembership(reply: Reply): Pick<ClusterMap, 'clustersOf' | 'badClusters'> {
    const clustersOf = new Map<string, string[]>();
    const badClusters: string[] = [];
    const [err, raw] = reply;
    if (err || !raw || typeof raw !== 'object') return { clustersOf, badClusters: err ? ['*'] : [] };
    for (const [id, json] of Object.entries(raw as Record<string, string>)) {
      let members: unknown;
      try {
        members = JSON.parse(json);
      } catch {
        badClusters.push(id);
        continue;
      }
      if (!Array.isArray(members)) {
        badClusters.push(id);
        continue;
      }
      for (const s of members) {
        if (typeof s !== 'string') continue;
        const list = clustersOf.get(s) ?? [];
        list.push(id);
        clustersOf.set(s, list);
      }
    }
    return { clustersOf, badClusters };
  }

  /** Reads the state of every cluster that lists one of `symbols`. */
  plan(
    plan: Batch,
    map: ClusterMap,
    symbols: Iterable<string>,
    ages: Ages,
  ): (symbol: string, stale: StaleInputs) => Reading<number> {
    const states = new Map<string, () => Reply>();
    for (const s of symbols) {
      for (const id of map.clustersOf.get(s) ?? []) {
        if (!states.has(id)) states.set(id, plan.add(['hmget', Keys.clusterState(id), ...STRESS_FIELDS]));
      }
    }
    const parsed = new Map<string, Stress>();
    const stateOf = (id: string): Stress => {
      let p = parsed.get(id);
      if (!p) {
        const reply = states.get(id);
        p = reply ? readStress(reply(), ages) : { ok: false, why: 'missing' };
        parsed.set(id, p);
      }
      return p;
    };
    return (symbol, stale) => {
      let best: { n: number; id: string } | undefined;
      for (const id of map.clustersOf.get(symbol) ?? []) {
        const p = stateOf(id);
        if (unusable(p)) stale.add('cluster', `${symbol}: cluster ${id} ${p.ok ? '' : p.why}`);
        if (p.ok && (!best || p.n > best.n)) best = { n: p.n, id };
      }
      if (best) return { value: clamp01(best.n), status: 'fresh', source: `cluster:${best.id}` };
      if (map.portfolioWide.ok)
        return { value: clamp01(map.portfolioWide.n), status: 'fresh', source: 'portfolio' };
      if (map.legacy.ok) return { value: clamp01(map.legacy.n), status: 'fresh', source: 'legacy' };
      stale.add('cluster', symbol);
      return { value: 0, status: 'missing' };
    };
  }
}
