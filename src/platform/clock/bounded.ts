/** Past this the process exits, however far its shutdown got (the supervisor's patience). */
export const SHUTDOWN_KILL_MS = 9000;
/** What one component waits for its in-flight work on stop: well inside SHUTDOWN_KILL_MS. */
export const STOP_WAIT_MS = 5000;

/**
 * Waits for `work` at most `ms`: `true` when it settled (a rejection counts as settled and stays
 * handled), `false` when the time ran out. The timer never outlives the wait.
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `work`, or a rejection with `error()` once `ms` have passed. */
export async function rejectAfter<T>(work: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    // race() also handles a late rejection of `work`, so it never goes unhandled
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
