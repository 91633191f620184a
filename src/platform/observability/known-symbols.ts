import { Injectable } from '@nestjs/common';

const OTHER_SYMBOL_LABEL = '_other';

/**
 * The symbols the budget engine budgeted in its last tick on this replica (docs/contract.md §3 Gate 0: a
 * `symbol` label is only ever one of these). Label code asks here instead of trusting a caller's
 * symbol, so no request can create or crowd out series.
 */
@Injectable()
export class KnownSymbols {
  private symbols: ReadonlySet<string> = new Set();

  /** Replaces the set; answers the symbols that left it. */
  replace(next: Iterable<string>): string[] {
    const now = new Set(next);
    const gone = [...this.symbols].filter((s) => !now.has(s));
    this.symbols = now;
    return gone;
  }

  has(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  /** The metric label for a symbol: itself when known, else `_other`. */
  label(symbol: string): string {
    return this.symbols.has(symbol) ? symbol : OTHER_SYMBOL_LABEL;
  }

  get size(): number {
    return this.symbols.size;
  }
}
