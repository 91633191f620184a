import type { Mode } from '../config/index.js';
import { effectiveMode, isMode } from '../../core/mode.js';

export interface ModeView {
  mode: Mode;
  version: number;
  changed_at?: number;
  changed_by?: string;
  expires_at?: number;
  /** the mode an expiring change replaced, which it reverts to */
  revert_to?: Mode;
  /** the ledger entry of the last change */
  operation_id?: string;
  /** symbol -> mode; a Map, so no symbol can read an Object.prototype member as its mode */
  overrides: ReadonlyMap<string, Mode>;
}

/** Read side of the mode: what the engine and the health endpoint see. Only `ops/` writes the mode. */
export abstract class ModeReader {
  abstract current(): ModeView;

  /** Epoch seconds by the injected clock: an expiry is judged on the same time as everything else. */
  protected abstract nowSec(): number;

  /** The mode in force for `symbol` now: an expired mode reads as its revert target before Redis reverts it. */
  effectiveMode(symbol: string, nowSec: number = this.nowSec()): Mode {
    return effectiveMode(this.current(), symbol, nowSec);
  }

  /**
   * The mode to write into a symbol's outputs. The lookup goes by data (the symbol), so whatever it
   * answers is checked: anything but a known mode is `unknown`, never thrown.
   */
  writableMode(symbol: string): Mode | 'unknown' {
    let mode: unknown;
    try {
      mode = this.effectiveMode(symbol);
    } catch {
      mode = undefined;
    }
    return isMode(mode) ? mode : 'unknown';
  }
}
