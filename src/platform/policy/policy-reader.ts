import type { RiskPolicy } from '../../core/policy.js';

export interface PolicyView {
  policy: RiskPolicy;
  version: number;
  changed_at?: number;
  changed_by?: string;
  operation_id?: string;
}

/**
 * Read side of the risk policy (docs/contract.md §7): what the engine computes with. Only `ops/`
 * writes it; this port keeps the engine from importing `ops/`.
 */
export abstract class PolicyReader {
  abstract current(): PolicyView;
}
