/** A prom-client metric as the tests read it (Counter, Gauge, Histogram alike). */
export type Sampled = {
  get(): Promise<{ values: Array<{ value: number; labels?: Record<string, string | number> }> }>;
};

/** The sum of a metric's series whose labels include `labels` (all series without it). */
export async function metric(m: Sampled, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels?.[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
