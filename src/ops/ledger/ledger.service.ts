import { Injectable } from '@nestjs/common';
import { InvalidInputError, UnavailableError } from '../../core/errors.js';
import { LedgerSigner } from './ledger-signer.js';
import { verifyLedger, type LedgerReport } from '../../core/ledger/ledger-verify.js';
import { LedgerRepository } from './ledger.repository.js';

const DEFAULT_PAGE = 50;

export interface LedgerPage {
  entries: Array<Record<string, unknown>>;
  /** pass as `?before=` for the next (older) page; absent on the last page */
  next_before?: string;
}

export const ledgerUnavailable = (err: Error) =>
  new UnavailableError(`Redis is unavailable (${err.message}); the ledger cannot be read`);

/** Read side of the audit ledger: pages for operators and the chain check. */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly signer: LedgerSigner,
  ) {}

  /** Newest first; `before` is an operation_id, exclusive. */
  page(limit = DEFAULT_PAGE, before?: string): Promise<LedgerPage> {
    return this.readPage(limit, before).catch((err: Error) => {
      throw err instanceof InvalidInputError ? err : ledgerUnavailable(err);
    });
  }

  private async readPage(limit: number, before?: string): Promise<LedgerPage> {
    let beforeStreamId: string | undefined;
    if (before !== undefined) {
      const hit = await this.ledger.findNewest((e) => e.operation_id === before);
      if (!hit) {
        throw new InvalidInputError([`before: no ledger entry has operation_id ${before}`], {
          fields: ['before'],
        });
      }
      beforeStreamId = hit.stream_id;
    }
    // one more than asked tells whether an older page exists
    const rows = await this.ledger.newest(limit + 1, beforeStreamId);
    const entries = rows.slice(0, limit).map((r) => r.entry);
    const last = entries.at(-1);
    return {
      entries,
      ...(rows.length > limit && typeof last?.operation_id === 'string'
        ? { next_before: last.operation_id }
        : {}),
    };
  }

  /**
   * Walks the whole chain and reports every break (signatures too, with signing on), and checks
   * its tail against the mode hash: an empty ledger with a version above 0 is a gap.
   */
  async verify(): Promise<LedgerReport> {
    const { entries, lastOperationId, version } = await this.ledger
      .allWithLastOperation()
      .catch((err: Error) => {
        throw ledgerUnavailable(err);
      });
    return verifyLedger(
      entries.map((e) => ({ entry: e.entry, stream_id: e.stream_id })),
      this.signer.trust,
      { version, ...(lastOperationId ? { operation_id: lastOperationId } : {}) },
    );
  }
}
