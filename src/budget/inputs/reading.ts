import { parseNumber } from '../../core/numbers.js';

/**
 * The inputs that can be missing or garbage, as labelled in `p28_stale_input_total{input_type}`.
 * `symbol`: a discovered key whose symbol part breaks the symbol rule (ignored, never budgeted).
 */
export type InputType = 'portfolio' | 'position' | 'heat' | 'cluster' | 'vol' | 'symbol';

/**
 * How an input was obtained: `fresh` from its source, `missing` (absent or unreachable), `garbage`
 * (present but unusable) or `error` (Redis answered with an error). Only `fresh` is trusted as is.
 */
export type InputStatus = 'fresh' | 'missing' | 'garbage' | 'error';

/** A reader's answer: the value to use (a default when not fresh) and where it came from. */
export interface Reading<T> {
  value: T;
  status: InputStatus;
  /** Which source answered (`cluster:ID`, `sigma`, ...) or why not (`timeout`, `http 500`). */
  source?: string;
}

/** Epoch values above this are milliseconds (1e11 s is the year 5138): some producers write ms. */
const MS_THRESHOLD = 1e11;
/** How far ahead of our clock a producer's timestamp may be before it is refused. */
export const FUTURE_TOLERANCE_SEC = 60;

/** When an input was written and how old that makes it (docs/contract.md §1 Inputs `INPUT_MAX_AGE_SEC`). */
export interface Ages {
  nowSec: number;
  maxAgeSec: number;
}

/**
 * Judges an input's own timestamp (epoch s or ms, or ISO 8601): `fresh`, `stale` (older than
 * the max age), `garbage` (unparsable or in the future: it would never age) or `absent` (the
 * producer wrote none: nothing to judge, the value is taken).
 */
export function judgeAge(raw: unknown, ages: Ages): 'fresh' | 'stale' | 'garbage' | 'absent' {
  const p = parseNumber(raw, 'positive');
  let ts: number;
  if (p.ok) ts = p.n > MS_THRESHOLD ? p.n / 1000 : p.n;
  else if (p.why === 'missing') return 'absent';
  else if (typeof raw === 'string' && !Number.isNaN(Date.parse(raw))) ts = Date.parse(raw) / 1000;
  else return 'garbage';
  if (ts > ages.nowSec + FUTURE_TOLERANCE_SEC) return 'garbage';
  return ages.nowSec - ts > ages.maxAgeSec ? 'stale' : 'fresh';
}

export const clamp01 = (n: number): number => (n < 0 ? 0 : n > 1 ? 1 : n);

const SAMPLES_PER_TYPE = 5;

/**
 * Collects a tick's missing/garbage inputs so they are counted per item but logged once per tick
 * (a bad feed for 10,000 symbols must not write 10,000 log lines).
 */
export class StaleInputs {
  readonly counts = new Map<InputType, number>();
  readonly samples = new Map<InputType, string[]>();

  add(type: InputType, what: string): void {
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    const list = this.samples.get(type) ?? [];
    if (list.length < SAMPLES_PER_TYPE) list.push(what);
    this.samples.set(type, list);
  }

  get empty(): boolean {
    return this.counts.size === 0;
  }

  toJSON(): Record<string, { count: number; samples: string[] }> {
    const out: Record<string, { count: number; samples: string[] }> = {};
    for (const [type, count] of this.counts) out[type] = { count, samples: this.samples.get(type) ?? [] };
    return out;
  }
}
