import type { Mode } from '../config/index.js';

export interface ModeView {
  mode: Mode;
  version: number;
  changed_at?: number;
  changed_by?: string;
  expires_at?: number;
  /** the ledger entry of the last change */
  operation_id?: string;
  overrides: Record<string, Mode>;
}

/** Read side of the mode: what the engine and the health endpoint see. Only `ops/` writes the mode. */
export abstract class ModeReader {
  abstract current(): ModeView;

  effectiveMode(symbol: string): Mode {
    const view = this.current();
    return view.overrides[symbol] ?? view.mode;
  }
}
