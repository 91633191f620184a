import { Injectable } from '@nestjs/common';
import { Clock } from '../platform/clock/clock.js';
import { AppConfig } from '../platform/config/index.js';
import { Batch, type RedisSession } from '../platform/redis/batch.js';
import { ClusterStressReader } from './inputs/cluster-stress.reader.js';
import { PortfolioStateReader } from './inputs/portfolio-state.reader.js';
import { PositionReader, type Position } from './inputs/position.reader.js';
import { type Reading, type StaleInputs } from './inputs/reading.js';
import { UniverseReader, type Universe } from './inputs/universe.reader.js';
import { VolatilityReader, type MarketView } from './inputs/volatility.reader.js';
import type { LkgCache, PortfolioDecision } from './lkg.js';

/** A symbol to budget: an active position, or a flat symbol of the universe (notional 0). */
export interface Target {
  symbol: string;
  notional: number;
  /** the reference price written into the budget hash, when one is known */
  price?: number;
}

type ClusterOf = ReturnType<ClusterStressReader['plan']>;
type VolOf = ReturnType<VolatilityReader['planWithMarket']>['vol'];

/**
 * What a tick read. `unusable`: no portfolio state to budget from, though the targets are still
 * known (the status says whether there was anything to budget). `failed`: Redis failed a read;
 * `portfolio` is the LKG outcome when the state's own read got that far.
 */
export type TickInputs =
  | {
      kind: 'usable';
      decision: Extract<PortfolioDecision, { outcome: 'fresh' | 'lkg' }>;
      active: Target[];
      heat: Reading<number>;
      clusterOf: ClusterOf;
      volOf: VolOf;
    }
  | {
      kind: 'unusable';
      decision: PortfolioDecision;
      active: Target[];
      heat: Reading<number>;
    }
  | { kind: 'failed'; error: unknown; portfolio?: PortfolioDecision['outcome'] };

/** Every symbol that may get a budget: those with position keys, and the universe's. */
export function candidatesOf(bySymbol: Map<string, string[]>, universe: Universe): Set<string> {
  const candidates = new Set(bySymbol.keys());
  for (const s of universe.configured) candidates.add(s);
  for (const s of universe.market) candidates.add(s);
  return candidates;
}

/** Budgeted, sorted: every active position, and every flat symbol of the universe (notional 0). */
export function activeTargets(
  candidates: Iterable<string>,
  read: {
    positionOf: (symbol: string, stale: StaleInputs) => Position | 'flat' | 'garbage';
    market: (symbol: string) => MarketView;
    universe: Universe;
    flatPrices: Map<string, number>;
  },
  stale: StaleInputs,
): Target[] {
  const active: Target[] = [];
  for (const symbol of [...candidates].sort()) {
    const p = read.positionOf(symbol, stale);
    if (typeof p === 'object') {
      active.push(p);
      continue;
    }
    if (p !== 'flat') continue;
    const m = read.market(symbol);
    if (!UniverseReader.includes(read.universe, symbol, m, stale)) continue;
    // the flat key's own price first (one position rule), else a live market state's
    const livePrice = m.age === 'fresh' || m.age === 'absent' ? m.price : undefined;
    active.push({ symbol, notional: 0, price: read.flatPrices.get(symbol) ?? livePrice });
  }
  return active;
}

/**
 * The read step of a tick: two batches and the SCANs, whatever the symbol count. A read error
 * is answered, not thrown, so the engine decides what a failed read means.
 */
@Injectable()
export class TickReader {
  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly portfolio: PortfolioStateReader,
    private readonly positions: PositionReader,
    private readonly clusters: ClusterStressReader,
    private readonly vol: VolatilityReader,
    private readonly universe: UniverseReader,
  ) {}

  async read(
    session: RedisSession,
    stale: StaleInputs,
    heatP: Promise<Reading<number>>,
    lkg: LkgCache,
  ): Promise<TickInputs> {
    let portfolio: PortfolioDecision['outcome'] | undefined;
    try {
      // 1st batch (alongside the SCAN): portfolio state and cluster membership
      const first = new Batch();
      const stateOf = this.portfolio.plan(first);
      const ages = { nowSec: this.clock.nowSec(), maxAgeSec: this.config.INPUT_MAX_AGE_SEC };
      const clusterMapOf = this.clusters.planMap(first, ages);
      // allSettled: a failed SCAN (e.g. one cluster master failing over) must not hide a state
      // that was read fine, and either rejection stays handled
      const [scan, universeScan, firstRead] = await Promise.allSettled([
        this.positions.discover(session, stale),
        this.universe.discover(session, stale),
        first.run(session),
      ]);
      if (firstRead.status === 'rejected') throw firstRead.reason;

      const decision = lkg.resolve(stateOf(stale).value, this.clock.nowSec());
      portfolio = decision.outcome;
      if (scan.status === 'rejected') throw scan.reason;
      if (universeScan.status === 'rejected') throw universeScan.reason;
      const bySymbol = scan.value;
      const universe = universeScan.value;
      const candidates = candidatesOf(bySymbol, universe);
      const usable = decision.outcome === 'fresh' || decision.outcome === 'lkg';

      // 2nd batch: every per-symbol hash (positions, market state, cluster states) at once
      const second = new Batch();
      const flatPrices = new Map<string, number>();
      const positionOf = this.positions.plan(second, bySymbol, flatPrices);
      const clusterMap = usable ? clusterMapOf(stale) : undefined;
      const clusterOf = clusterMap ? this.clusters.plan(second, clusterMap, candidates, ages) : undefined;
      // the market states are read even without a usable state: whether they are live decides the
      // universe, and so whether this tick had anything to budget
      const { market, vol } = this.vol.planWithMarket(second, candidates, ages);
      await second.run(session);

      const active = activeTargets(candidates, { positionOf, market, universe, flatPrices }, stale);
      const heat = await heatP;
      if (heat.status !== 'fresh') stale.add('heat', heat.source ?? heat.status);
      if (!usable || !clusterOf) return { kind: 'unusable', decision, active, heat };
      return { kind: 'usable', decision, active, heat, clusterOf, volOf: vol };
    } catch (error) {
      return { kind: 'failed', error, portfolio };
    }
  }
}
