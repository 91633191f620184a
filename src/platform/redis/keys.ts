/**
 * Every Redis key of docs/contract.md, in one place. Inputs are owned by other services (read only);
 * outputs are written by this one. Keys written together atomically share the `{p28:ops}` hash tag.
 */
export const Keys = {
  // --- inputs (docs/contract.md §1 Inputs) ---
  portfolioState: 'quantum:state:portfolio',
  positionPatterns: ['quantum:state:positions:*', 'quantum:position:snapshot:*'] as readonly string[],
  position: (symbol: string) => `quantum:state:positions:${symbol}`,
  legacyPosition: (symbol: string) => `quantum:position:snapshot:${symbol}`,
  clusters: 'quantum:portfolio:clusters',
  clusterState: (clusterId: string) => `quantum:portfolio:cluster_state:${clusterId}`,
  portfolioClusterState: 'quantum:portfolio:cluster_state',
  legacyClusterStress: 'quantum:cluster:stress:default',
  marketState: (symbol: string) => `quantum:marketstate:${symbol}`,
  /** SCAN pattern of the live market states: each one puts its symbol in the tradable universe (§2). */
  marketStatePattern: 'quantum:marketstate:*',
  legacyMarketState: (symbol: string) => `quantum:state:market:${symbol}`,

  // --- budget engine outputs (§2) ---
  budget: (symbol: string) => `quantum:portfolio:budget:${symbol}`,
  budgetPattern: 'quantum:portfolio:budget:*',
  violation: (symbol: string) => `quantum:portfolio:violation:${symbol}`,
  violationStream: 'quantum:stream:budget.violation',
  leaderLease: 'quantum:p28:leader',
  /**
   * Hash written by the leader with every successful tick: `last_success_ms` (epoch ms), `symbols`
   * (budgeted), `written`. Followers read it, so their readiness follows the leader's writes.
   */
  budgetStatus: 'quantum:p28:budget_status',

  // --- Gate 0 (§3) ---
  planStream: 'quantum:stream:apply.plan',
  planConsumerGroup: 'p28-gate',
  permit: (planId: string) => `quantum:permit:p28:${planId}`,
  /** Ours: `quantum:governor:block:*` is the governor's, which we neither write nor read as our own. */
  block: (planId: string) => `quantum:p28:block:${planId}`,
  /** Marks a plan id as decided for a day: the permit lives 60 s, idempotency must outlive it. */
  planSeen: (planId: string) => `quantum:p28:plan_seen:${planId}`,
  governorEvents: 'quantum:stream:governor.events',
  shadowWouldBlock: 'quantum:stream:p28.shadow_would_block',
  /** Stream: every authenticated or consumer decision with the inputs it used (docs/contract.md §7). */
  decisions: 'quantum:p28:decisions',

  // --- modes and audit (§4): one hash tag so a change is one atomic script on any topology ---
  /**
   * Hash: `mode` (shadow|enforce), `version` (integer, +1 per change), `changed_at` (epoch s),
   * `changed_by` (actor name), `operation_id`, `expires_at` (epoch s, only while an expiring enforce
   * is in force). Absent until the first change or seed: readers then use P28_MODE.
   */
  mode: 'quantum:{p28:ops}:mode',
  /** Hash: field SYMBOL -> `shadow` | `enforce`; a per-symbol override wins over the global mode. */
  modeOverrides: 'quantum:{p28:ops}:overrides',
  ledger: 'quantum:{p28:ops}:ledger',
  ledgerSeq: (day: string) => `quantum:{p28:ops}:seq:${day}`,
  modeChannel: 'quantum:{p28:ops}:mode-changed',
  /**
   * Hash (docs/contract.md §7): the six policy parameters, `version` (+1 per change, 0 when seeded),
   * `changed_at`, `changed_by`, `operation_id`. Same hash tag as the ledger: one script writes both.
   */
  policy: 'quantum:{p28:ops}:policy',
  policyChannel: 'quantum:{p28:ops}:policy-changed',
} as const;

/** Strips a key pattern's trailing `*` from a key to get the symbol (`quantum:state:positions:BTCUSDT` → `BTCUSDT`). */
export function symbolFromKey(key: string, pattern: string): string | undefined {
  const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  return key.startsWith(prefix) && key.length > prefix.length ? key.slice(prefix.length) : undefined;
}
