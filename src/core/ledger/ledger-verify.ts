import { isMode } from '../mode.js';
import { parsePolicy } from '../policy.js';
import { SYMBOL_PATTERN } from '../symbol.js';
import { signatureValid, type TrustedKeys } from './ledger-keys.js';
import {
  entryHash,
  FIELD_ORDER,
  isPolicyOperation,
  GENESIS_HASH,
  OPERATION_ID,
  OPERATION_NAMES,
  parseOperationId,
} from './ledger-entry.js';

/**
 * Checks of the audit ledger (docs/contract.md §4 Modes and the audit trail): hash, chain, signature by a trusted key, and shape
 * (known operation, valid modes, scope, version = previous + 1, ids increasing per day). Pure: the
 * service, the mirror and the offline verifier share it.
 */

export const BREAK_PROBLEMS = [
  'hash_mismatch',
  'prev_mismatch',
  'unsigned',
  'unknown_signer',
  'bad_signature',
  'bad_shape',
  'version_gap',
] as const;
export type BreakProblem = (typeof BREAK_PROBLEMS)[number];

export interface LedgerBreak {
  operation_id: string | null;
  problem: BreakProblem;
  /** 0-based position, oldest first (the entry count for a missing tail) */
  index: number;
  /** Redis stream id, when checking the stream */
  stream_id?: string;
  detail: string;
}

export interface LedgerReport {
  ok: boolean;
  entries: number;
  /** signatures were checked (trusted keys configured) */
  signed: boolean;
  breaks: LedgerBreak[];
}

export interface ChainItem {
  entry: Readonly<Record<string, unknown>>;
  stream_id?: string;
}

export interface Problem {
  problem: BreakProblem;
  detail: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const SIGNER = /^[0-9a-f]{16}$/;
const KNOWN_FIELDS = new Set<string>(FIELD_ORDER);
const OPERATIONS = new Set<string>(OPERATION_NAMES);
const isUint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown) => typeof v === 'string' && v.length > 0;

function policyText(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const parsed: unknown = JSON.parse(v);
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      parsePolicy(parsed as Record<string, unknown>) !== undefined
    );
  } catch {
    return false;
  }
}

/** What is wrong with an entry's fields on their own, or undefined. */
function shapeProblem(e: Readonly<Record<string, unknown>>): string | undefined {
  for (const key of Object.keys(e)) if (!KNOWN_FIELDS.has(key)) return `unknown field ${JSON.stringify(key)}`;
  if (typeof e.operation_id !== 'string' || !OPERATION_ID.test(e.operation_id)) return 'bad operation_id';
  if (typeof e.operation_name !== 'string' || !OPERATIONS.has(e.operation_name))
    return 'unknown operation_name';
  if (!isMode(e.from_mode)) return 'bad from_mode';
  if (!isMode(e.to_mode)) return 'bad to_mode';
  const policy = isPolicyOperation(e.operation_name);
  const global =
    e.operation_name === 'set-mode' || e.operation_name === 'rollback' || e.operation_name === 'auto-revert';
  if (policy) {
    if (e.scope !== 'policy') return 'bad scope';
    for (const k of ['policy_before', 'policy_after'] as const) if (!policyText(e[k])) return `bad ${k}`;
  } else if (e.policy_before !== undefined || e.policy_after !== undefined) {
    return 'policy fields on a mode operation';
  } else if (global ? e.scope !== 'global' : typeof e.scope !== 'string' || !SYMBOL_PATTERN.test(e.scope)) {
    return 'bad scope';
  }
  if (e.risk_class !== 'high' && e.risk_class !== 'low') return 'bad risk_class';
  if (e.outcome !== 'applied') return 'bad outcome';
  for (const k of ['actor', 'reason', 'git_commit', 'hostname'] as const)
    if (!isText(e[k])) return `bad ${k}`;
  if (!isUint(e.version) || (e.version as number) < 1) return 'bad version';
  if (!isUint(e.timestamp)) return 'bad timestamp';
  if (e.expires_at !== undefined && !isUint(e.expires_at)) return 'bad expires_at';
  if (
    e.rollback_of !== undefined &&
    (typeof e.rollback_of !== 'string' || !OPERATION_ID.test(e.rollback_of))
  ) {
    return 'bad rollback_of';
  }
  if (typeof e.prev_hash !== 'string' || !HEX64.test(e.prev_hash)) return 'bad prev_hash';
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) return 'bad hash';
  if (e.signer !== undefined && (typeof e.signer !== 'string' || !SIGNER.test(e.signer))) return 'bad signer';
  if (e.signature !== undefined && typeof e.signature !== 'string') return 'bad signature field';
  return undefined;
}

/**
 * The chain position an entry is judged against: the hash and version of the entry before it and
 * the highest sequence seen per day. Advanced only by entries the caller accepts.
 */
export class ChainCursor {
  prevHash = GENESIS_HASH;
  /** the mode's version after the last mode entry */
  version = 0;
  /** the policy's version after the last policy entry: the policy counts its own versions */
  policyVersion = 0;
  /**
   * Entries must be signed from the `signed-from` mark on (or from the first signed entry, or from
   * the start without a mark); the chain before is anchored by the first signature.
   */
  signing: boolean;
  private readonly seqs = new Map<string, number>();

  constructor(private readonly trust?: TrustedKeys) {
    this.signing = !trust?.signedFrom;
  }

  get signed(): boolean {
    return this.trust !== undefined;
  }

  /** Every problem of `e` at this position, empty when it verifies. */
  check(e: Readonly<Record<string, unknown>>): Problem[] {
    const out: Problem[] = [];
    const shape = shapeProblem(e);
    if (shape) out.push({ problem: 'bad_shape', detail: shape });
    if (e.hash !== entryHash(e))
      out.push({ problem: 'hash_mismatch', detail: 'the entry was altered after it was written' });
    if (e.prev_hash !== this.prevHash) {
      out.push({
        problem: 'prev_mismatch',
        detail:
          this.prevHash === GENESIS_HASH
            ? 'the first entry does not start the chain: entries before it are missing'
            : 'prev_hash does not match the preceding entry: an entry was deleted, inserted or reordered',
      });
    }
    const before = isPolicyOperation(e.operation_name) ? this.policyVersion : this.version;
    if (!shape && e.version !== before + 1) {
      out.push({ problem: 'version_gap', detail: `version ${String(e.version)} follows ${before}` });
    }
    const id = typeof e.operation_id === 'string' ? parseOperationId(e.operation_id) : undefined;
    if (id && id.seq <= (this.seqs.get(id.day) ?? 0)) {
      out.push({
        problem: 'bad_shape',
        detail: `operation id not above ${this.seqs.get(id.day)} of its day`,
      });
    }
    const sig = this.signatureProblem(e);
    if (sig) out.push(sig);
    return out;
  }

  /** Moves past `e`: the next entry is judged against it. */
  advance(e: Readonly<Record<string, unknown>>): void {
    this.prevHash = typeof e.hash === 'string' ? e.hash : this.prevHash;
    if (isUint(e.version)) {
      if (isPolicyOperation(e.operation_name)) this.policyVersion = e.version as number;
      else this.version = e.version as number;
    }
    const id = typeof e.operation_id === 'string' ? parseOperationId(e.operation_id) : undefined;
    if (id && id.seq > (this.seqs.get(id.day) ?? 0)) this.seqs.set(id.day, id.seq);
  }

  private signatureProblem(e: Readonly<Record<string, unknown>>): Problem | undefined {
    if (!this.trust) return undefined;
    if (!this.signing && (e.signer !== undefined || atOrAfter(e.operation_id, this.trust.signedFrom))) {
      this.signing = true;
    }
    if (!this.signing) return undefined;
    if (e.signer === undefined || e.signature === undefined) {
      return { problem: 'unsigned', detail: 'signing is configured and the entry carries no signature' };
    }
    const key = typeof e.signer === 'string' ? this.trust.keys.get(e.signer) : undefined;
    if (!key) return { problem: 'unknown_signer', detail: `signer ${String(e.signer)} is not a trusted key` };
    if (
      typeof e.hash !== 'string' ||
      typeof e.signature !== 'string' ||
      !signatureValid(e.hash, e.signature, key)
    ) {
      return {
        problem: 'bad_signature',
        detail: `the signature does not verify with key ${String(e.signer)}`,
      };
    }
    return undefined;
  }
}

/** Whether operation id `id` is the mark or a later one (by day, then sequence). */
function atOrAfter(id: unknown, mark: string | undefined): boolean {
  const a = typeof id === 'string' ? parseOperationId(id) : undefined;
  const m = mark ? parseOperationId(mark) : undefined;
  if (!a || !m) return false;
  return a.day > m.day || (a.day === m.day && a.seq >= m.seq);
}

const breakAt = (index: number, item: ChainItem, p: Problem): LedgerBreak => ({
  operation_id: typeof item.entry.operation_id === 'string' ? item.entry.operation_id : null,
  problem: p.problem,
  index,
  ...(item.stream_id ? { stream_id: item.stream_id } : {}),
  detail: p.detail,
});

/**
 * Reports every break, not only the first: after a bad entry the walk resumes from it, so one
 * altered entry is one break and a second, far-away tampering is still seen. `tail` (the mode
 * hash's version and last operation) catches entries missing at the end, or an empty ledger.
 */
export function verifyLedger(
  items: readonly ChainItem[],
  trust?: TrustedKeys,
  tail?: { version: number; operation_id?: string },
): LedgerReport {
  const cursor = new ChainCursor(trust);
  const breaks: LedgerBreak[] = [];
  items.forEach((item, index) => {
    for (const p of cursor.check(item.entry)) breaks.push(breakAt(index, item, p));
    cursor.advance(item.entry);
  });
  if (tail) {
    // the mode hash's version is checked against the last mode entry: policy entries count their own
    const last = items.findLast((i) => !isPolicyOperation(i.entry.operation_name))?.entry;
    const lastId = typeof last?.operation_id === 'string' ? last.operation_id : undefined;
    const lastVersion = typeof last?.version === 'number' ? last.version : 0;
    // a ledger behind the mode lost entries; one ahead of it holds an entry no change made (flagged above)
    const behind =
      tail.version > lastVersion ||
      (last !== undefined &&
        tail.version === lastVersion &&
        tail.operation_id !== undefined &&
        lastId !== tail.operation_id);
    if (behind) {
      breaks.push({
        operation_id: tail.operation_id ?? null,
        problem: 'version_gap',
        index: items.length,
        detail: last
          ? `the mode was last changed by ${tail.operation_id} (version ${tail.version}), which is not the ledger's last entry: trailing entries are missing`
          : `the ledger is empty while the mode is at version ${tail.version}: its entries are missing`,
      });
    }
  }
  return { ok: breaks.length === 0, entries: items.length, signed: trust !== undefined, breaks };
}

/**
 * The entries that verify, in order, skipping any that do not (never adopted, restored or
 * applied), with the breaks of those skipped. Each accepted entry must chain onto the last one
 * accepted, so nothing after a skipped entry is accepted unless it chains around it.
 */
export function acceptVerified<T extends Readonly<Record<string, unknown>>>(
  entries: readonly T[],
  trust?: TrustedKeys,
  cursor = new ChainCursor(trust),
): { accepted: T[]; rejected: LedgerBreak[]; cursor: ChainCursor } {
  const accepted: T[] = [];
  const rejected: LedgerBreak[] = [];
  entries.forEach((entry, index) => {
    const problems = cursor.check(entry);
    if (problems.length === 0) {
      accepted.push(entry);
      cursor.advance(entry);
    } else {
      rejected.push(breakAt(index, { entry }, problems[0]));
    }
  });
  return { accepted, rejected, cursor };
}
