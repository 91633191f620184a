/** Nesting depth without recursion, so a hostile body cannot overflow the stack here either. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/** No endpoint takes nested bodies; anything deeper is refused before the recursive validators see it. */
export const MAX_REQUEST_BODY_DEPTH = 8;
