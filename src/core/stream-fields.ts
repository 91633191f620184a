/**
 * Redis stream and hash replies as flat `[field, value, field, value, ...]` lists, read in one place.
 * A trailing field without its value is dropped. Field names come from whoever wrote the entry, so
 * they go into a Map or a null-prototype record: a field called `__proto__` is just a field.
 */
export function streamPairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

export function streamFieldMap(flat: readonly string[]): Map<string, string> {
  return new Map(streamPairs(flat));
}

export function streamRecord(flat: readonly string[]): Record<string, string> {
  const rec = Object.create(null) as Record<string, string>;
  for (const [k, v] of streamPairs(flat)) rec[k] = v;
  return rec;
}

/** The value of the first `name` field, or undefined. */
export function streamField(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}
