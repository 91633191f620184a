import type { DestinationStream } from 'pino';
import { pino } from 'pino';

/** Log bytes held for a sink that falls behind; past this, lines are dropped and counted. */
const LOG_BUFFER_MAX_BYTES = 1024 * 1024;
/** The longest the exit flush writes to a sink that is still taking lines. */
const EXIT_FLUSH_MS = 1000;
/** A sink that took no byte for this long is stalled: the exit flush leaves it alone. */
const SINK_STALLED_MS = 1000;

let droppedLines = 0;
const dropListeners = new Set<() => void>();

/**
 * Calls `listener` for every line dropped from now on. The logger exists before the app (and its
 * metrics) do, so drops are published here and the metrics subscribe (LogDropMetrics).
 */
export function onLogLineDropped(listener: () => void): () => void {
  dropListeners.add(listener);
  return () => dropListeners.delete(listener);
}

/** Lines dropped by every destination of this process since start. */
export const logLinesDropped = (): number => droppedLines;

export interface LogDestination extends DestinationStream {
  /** Bytes accepted and not yet written to the sink (at most the buffer bound). */
  readonly pendingBytes: number;
  /** Writes what is buffered, within EXIT_FLUSH_MS, unless the sink is stalled: what runs at exit. */
  flushSync(): void;
}

export interface LogDestinationOptions {
  fd?: number;
  maxBufferBytes?: number;
  exitFlushMs?: number;
  stalledMs?: number;
}

/**
 * pino's asynchronous file-descriptor destination (sonic-boom) with a bounded buffer: behind a slow
 * sink it drops lines (counted) instead of growing until the heap runs out, and the flush pino runs
 * at process exit gives up rather than hold a shutting-down process hostage to a stalled reader.
 */
export function createLogDestination(opts: LogDestinationOptions = {}): LogDestination {
  const exitFlushMs = opts.exitFlushMs ?? EXIT_FLUSH_MS;
  const stalledMs = opts.stalledMs ?? SINK_STALLED_MS;
  let deadline: number | undefined;
  let pending = 0;
  /** When the sink last made progress (or, when nothing was pending, when something became so). */
  let progressAt = Date.now();
  let dropped = false;

  const countDrop = () => {
    droppedLines++;
    for (const listener of dropListeners) listener();
  };

  const boom = pino.destination({
    dest: opts.fd ?? 1,
    sync: false,
    maxLength: opts.maxBufferBytes ?? LOG_BUFFER_MAX_BYTES,
    // EAGAIN from a full pipe: retry (in the background) as long as no exit flush is running out of time
    retryEAGAIN: () => deadline === undefined || Date.now() < deadline,
  });
  boom.on('drop', () => {
    dropped = true;
    countDrop();
  });
  // a sink that went away (EPIPE, EBADF) must not crash the service it only reports on: from then
  // on every line is dropped and counted
  let broken = false;
  boom.on('error', () => {
    if (!broken) countDrop();
    broken = true;
    pending = 0;
  });
  boom.on('write', (n: number) => {
    pending = Math.max(0, pending - n);
    progressAt = Date.now();
  });

  const flushAll = boom.flushSync.bind(boom);
  // pino's exit hook calls the stream's flushSync: this one is bounded
  boom.flushSync = () => {
    if (pending === 0 || Date.now() - progressAt > stalledMs) return;
    deadline = Date.now() + exitFlushMs;
    try {
      flushAll();
      pending = 0;
    } catch {
      // gave up at the deadline: what is left is lost, as lines dropped while running were
    } finally {
      deadline = undefined;
    }
  };

  return {
    write(line: string) {
      if (broken) {
        countDrop();
        return;
      }
      dropped = false;
      boom.write(line);
      if (dropped) return;
      if (pending === 0) progressAt = Date.now();
      pending += Buffer.byteLength(line);
    },
    get pendingBytes() {
      return pending;
    },
    flushSync: () => boom.flushSync(),
  };
}
