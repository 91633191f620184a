import { Counter, type LabelValues, type Registry } from 'prom-client';

/** One label set's count since the counter was last read. */
export interface Tally {
  n: number;
}

interface Cell<L extends string> extends Tally {
  labels: LabelValues<L>;
}

/**
 * A prom-client Counter for a hot path: an event adds 1 to a plain number, and the counts go into
 * the Counter when it is read (a scrape, `get()`, through prom-client's `collect`). A labelled
 * child's `inc()` hashes and checks its labels on every call, which the gate paid per decision.
 * The label sets must be bounded by the caller, as for any labelled counter.
 */
export class TalliedCounter<L extends string> {
  readonly counter: Counter<L>;
  private readonly cells = new Map<string, Cell<L>>();

  constructor(
    name: string,
    help: string,
    private readonly labelNames: L[],
    registry: Registry,
  ) {
    const cells = this.cells;
    this.counter = new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<L>) {
        for (const c of cells.values()) {
          if (c.n === 0) continue;
          this.inc(c.labels, c.n);
          c.n = 0;
        }
      },
    });
  }

  /**
   * The tally of one label set, its values `a` (and `b`) in labelNames order; `key` names the set.
   * `tally(…).n++` counts one event. The labels object is built only for a new set: the gate
   * asks per decision.
   */
  tally(key: string, a: string, b?: string): Tally {
    let c = this.cells.get(key);
    if (!c) {
      const labels = Object.fromEntries(
        this.labelNames.map((l, i) => [l, i === 0 ? a : b]),
      ) as LabelValues<L>;
      c = { n: 0, labels };
      this.cells.set(key, c);
    }
    return c;
  }
}
