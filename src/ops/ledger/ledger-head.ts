import type { LedgerEntry } from '../../core/ledger/ledger-entry.js';

/**
 * The log line that anchors the chain head outside Redis (docs/contract.md §4): log retention keeps
 * it where someone who can write Redis cannot rewrite it.
 */
export const chainHeadLine = (head: LedgerEntry) => ({
  msg: 'ledger head',
  operation_id: head.operation_id,
  hash: head.hash,
  signer: head.signer ?? null,
  signature: head.signature ?? null,
});
