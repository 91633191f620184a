/**
 * Whether `value` nests objects or arrays `max` levels deep or more (the top-level object is level 0).
 * Without recursion, so a hostile body cannot overflow the stack here either. It runs on every
 * request body: a flat body, the common case, costs one pass over its keys and two one-element
 * arrays; nothing is allocated per key.
 */
export function depthExceeds(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  // two parallel stacks rather than a [node, depth] tuple per node
  const nodes: object[] = [value];
  const depths: number[] = [0];
  while (nodes.length) {
    const node = nodes.pop() as Record<string, unknown> | unknown[];
    const childDepth = (depths.pop() as number) + 1;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child = node[i];
        if (child !== null && typeof child === 'object') {
          if (childDepth >= max) return true;
          nodes.push(child);
          depths.push(childDepth);
        }
      }
      continue;
    }
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      const child = node[key];
      if (child !== null && typeof child === 'object') {
        if (childDepth >= max) return true;
        nodes.push(child);
        depths.push(childDepth);
      }
    }
  }
  return false;
}

/** Bodies over this size get 413 from Fastify, before any handler. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The gate's, the ops routes' and simulate's bodies are under 1 KB. Over this, Fastify answers 413
 * from the content-length before reading the body: parsing 1 MB of JSON alone costs tens of ms.
 */
export const SMALL_BODY_LIMIT_BYTES = 8 * 1024;

const SMALL_BODY_ROUTES = ['/governor/evaluate', '/budgets/simulate'];
const SMALL_BODY_PREFIXES = ['/ops/', '/test/'];

/** The body limit of a route when it is smaller than the app's (matched on Fastify's route URL). */
export function routeBodyLimit(url: string): number | undefined {
  if (SMALL_BODY_ROUTES.includes(url) || SMALL_BODY_PREFIXES.some((p) => url.startsWith(p))) {
    return SMALL_BODY_LIMIT_BYTES;
  }
  return undefined;
}

/** A refusal names this many unknown keys at most: enough to fix a body, cheap for a hostile one. */
export const MAX_UNKNOWN_KEYS_REPORTED = 5;

/** A 400 lists at most this many `field: rule` messages. */
export const MAX_VALIDATION_MESSAGES = 20;

/**
 * The first keys of `value` that `known` lacks, stopping at `max` (own enumerable keys only, as
 * JSON gives). Costs one pass at most, however many keys the body holds.
 */
export function unknownKeys(value: object, known: ReadonlySet<string>, max: number): string[] {
  const out: string[] = [];
  for (const key in value) {
    if (!Object.hasOwn(value, key) || known.has(key)) continue;
    out.push(key);
    if (out.length >= max) break;
  }
  return out;
}

/** No endpoint takes nested bodies; anything deeper is refused before the recursive validators see it. */
export const MAX_REQUEST_BODY_DEPTH = 8;
