/**
 * The risk policy (docs/contract.md §7): the budget formula's six parameters, as shared state.
 * Pure: validation and the hash codec, no Redis.
 */
export const POLICY_FIELDS = [
  'alpha_heat',
  'beta_cluster',
  'gamma_vol',
  'base_risk_pct',
  'min_budget_usd',
  'max_budget_usd',
] as const;
type PolicyField = (typeof POLICY_FIELDS)[number];
export type RiskPolicy = Readonly<Record<PolicyField, number>>;

const FIELDS = new Set<string>(POLICY_FIELDS);

export interface PolicyProblem {
  field: string;
  message: string;
}

/** Every problem of a whole policy: the rules a change and a stored policy both obey. */
function policyProblems(p: Readonly<Record<string, unknown>>): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const f of POLICY_FIELDS) {
    const v = p[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      out.push({ field: f, message: `${f} must be a finite number >= 0` });
    }
  }
  const base = p.base_risk_pct;
  if (typeof base === 'number' && Number.isFinite(base) && (base <= 0 || base > 1)) {
    out.push({ field: 'base_risk_pct', message: 'base_risk_pct must be in (0, 1]' });
  }
  if (out.length === 0 && (p.min_budget_usd as number) > (p.max_budget_usd as number)) {
    out.push({ field: 'min_budget_usd', message: 'min_budget_usd must not exceed max_budget_usd' });
  }
  return out;
}

/**
 * `current` with the change applied, or the problems of the change. Unknown names are refused, so
 * `constructor` or `__proto__` in a request body is a named 400, never a prototype lookup.
 */
export function mergePolicy(
  current: RiskPolicy,
  change: unknown,
): { ok: true; policy: RiskPolicy } | { ok: false; problems: PolicyProblem[] } {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    return { ok: false, problems: [{ field: 'policy', message: 'policy must be an object' }] };
  }
  const keys = Object.keys(change);
  const unknown = keys.filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) {
    return {
      ok: false,
      problems: unknown.slice(0, 5).map((k) => ({
        field: `policy.${k}`,
        message: `policy.${k} is not a policy parameter (${POLICY_FIELDS.join(', ')})`,
      })),
    };
  }
  if (keys.length === 0) {
    return { ok: false, problems: [{ field: 'policy', message: 'policy must name at least one parameter' }] };
  }
  const merged: Record<string, unknown> = { ...current };
  for (const k of keys) merged[k] = (change as Record<string, unknown>)[k];
  const problems = policyProblems(merged).map((p) => ({
    field: `policy.${p.field}`,
    message: `policy.${p.message}`,
  }));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy: merged as RiskPolicy };
}

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?(e[-+]?[0-9]+)?$/i;

/** A policy stored as strings (the hash, or a ledger entry's JSON), or undefined when it breaks a rule. */
export function parsePolicy(fields: Readonly<Record<string, unknown>>): RiskPolicy | undefined {
  const out: Record<string, number> = {};
  for (const f of POLICY_FIELDS) {
    const v = fields[f];
    const n = typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v) ? Number(v) : NaN;
    out[f] = n;
  }
  return policyProblems(out).length === 0 ? (out as RiskPolicy) : undefined;
}

/** The ledger's encoding of a policy: JSON with the fields in contract order. */
export function policyJson(p: RiskPolicy): string {
  return JSON.stringify(Object.fromEntries(POLICY_FIELDS.map((f) => [f, p[f]])));
}
