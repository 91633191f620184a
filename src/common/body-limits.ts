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

/** No endpoint takes nested bodies; anything deeper is refused before the recursive validators see it. */
export const MAX_REQUEST_BODY_DEPTH = 8;
