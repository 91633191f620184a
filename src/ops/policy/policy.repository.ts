import { Injectable } from '@nestjs/common';
import { parsePolicy, POLICY_FIELDS, type RiskPolicy } from '../../core/policy.js';
import {
  GENESIS_HASH,
  isPolicyOperation,
  toStreamFields,
  type LedgerEntry,
} from '../../core/ledger/ledger-entry.js';
import { parseUint } from '../../core/numbers.js';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { runScript } from '../../platform/redis/scripts.js';
import { SEQ_TTL_SEC } from '../mode/mode.repository.js';
import { POLICY_CHANGE_SCRIPT, POLICY_RESTORE_SCRIPT, POLICY_SEED_SCRIPT } from './policy.scripts.js';

export interface PolicyWrite {
  expectedVersion: number;
  expectedHead: string;
  seqKeyDay: string;
  seq: number;
  policy: RiskPolicy;
  changedAt: number;
  changedBy: string;
  entry: LedgerEntry;
}

export type PolicyWriteResult =
  { ok: true; streamId: string } | { ok: false; conflict: 'STALE' | 'HEAD' | 'SEQ'; found: string };

const policyPairs = (p: RiskPolicy): string[] => POLICY_FIELDS.flatMap((f) => [f, String(p[f])]);

/** Redis side of the policy: the hash, its seed, and the atomic change script. */
@Injectable()
export class PolicyRepository {
  constructor(private readonly redis: RedisService) {}

  /** The stored hash, or undefined when there is none. A key of another type throws WRONGTYPE. */
  async read(): Promise<Record<string, string> | undefined> {
    const h = await this.redis.client.hgetall(Keys.policy);
    return Object.keys(h).length > 0 ? h : undefined;
  }

  async seed(policy: RiskPolicy, nowSec: number, by: string): Promise<boolean> {
    const r = await runScript(
      this.redis.client,
      SEED,
      1,
      Keys.policy,
      String(nowSec),
      by,
      ...policyPairs(policy),
    );
    return r === 1;
  }

  /**
   * After a ledger restore: the policy of the last policy entry, unless Redis holds that version
   * or a later one. True when it wrote.
   */
  async restoreFrom(entries: readonly LedgerEntry[]): Promise<boolean> {
    const last = entries.findLast((e) => isPolicyOperation(e.operation_name));
    let policy: RiskPolicy | undefined;
    try {
      policy = last?.policy_after
        ? parsePolicy(JSON.parse(last.policy_after) as Record<string, unknown>)
        : undefined;
    } catch {
      policy = undefined;
    }
    if (!last || !policy) return false;
    const r = await runScript(
      this.redis.client,
      RESTORE,
      1,
      Keys.policy,
      String(last.version),
      String(last.timestamp),
      last.actor,
      last.operation_id,
      Keys.policyChannel,
      ...policyPairs(policy),
    );
    return r === 1;
  }

  async change(w: PolicyWrite): Promise<PolicyWriteResult> {
    const pairs = policyPairs(w.policy);
    const res = (await runScript(
      this.redis.client,
      CHANGE,
      3,
      Keys.policy,
      Keys.ledger,
      Keys.ledgerSeq(w.seqKeyDay),
      String(w.expectedVersion),
      w.expectedHead,
      String(w.seq),
      String(SEQ_TTL_SEC),
      String(w.changedAt),
      w.changedBy,
      w.entry.operation_id,
      Keys.policyChannel,
      GENESIS_HASH,
      String(pairs.length),
      ...pairs,
      ...toStreamFields(w.entry),
    )) as [string, string];
    if (res[0] === 'OK') return { ok: true, streamId: res[1] };
    return { ok: false, conflict: res[0] as 'STALE' | 'HEAD' | 'SEQ', found: res[1] };
  }
}

/** The stored version: a missing or malformed one reads as 0, as the change script reads it. */
export const storedVersion = (h: Record<string, string> | undefined): number => parseUint(h?.version) ?? 0;

const SEED = { name: 'p28PolicySeed', lua: POLICY_SEED_SCRIPT };
const CHANGE = { name: 'p28PolicyChange', lua: POLICY_CHANGE_SCRIPT };
const RESTORE = { name: 'p28PolicyRestore', lua: POLICY_RESTORE_SCRIPT };
