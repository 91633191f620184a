import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogDestination, logLinesDropped, onLogLineDropped } from './log-destination.js';

/** A pipe whose reader never reads (a `sleep` with its stdin piped): the slowest possible sink. */
function stalledPipe(): { fd: number; child: ChildProcess } {
  const child = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, child };
}

describe('createLogDestination', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('behind a stalled sink holds at most its buffer bound, drops the rest and counts every dropped line', async () => {
    const { fd, child } = stalledPipe();
    children.push(child);
    const dest = createLogDestination({ fd, maxBufferBytes: 64 * 1024 });
    let heard = 0;
    const off = onLogLineDropped(() => heard++);
    const before = logLinesDropped();
    const line = `${JSON.stringify({ msg: 'x'.repeat(200) })}\n`;
    for (let i = 0; i < 20_000; i++) {
      dest.write(line);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    off();
    expect(dest.pendingBytes).toBeLessThanOrEqual(64 * 1024);
    // ~4.2 MB offered; the pipe holds 64 KB and the buffer 64 KB: nearly all of it is dropped
    expect(heard).toBeGreaterThan(15_000);
    expect(logLinesDropped() - before).toBe(heard);
    // the exit flush leaves a stalled sink alone instead of waiting on it
    await new Promise((r) => setTimeout(r, 1100));
    const started = performance.now();
    dest.flushSync();
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('a sink that went away (EPIPE) costs lines, counted, never an uncaught error', async () => {
    const child = spawn('true', [], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(child);
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    await new Promise((r) => child.once('exit', r));
    const dest = createLogDestination({ fd, maxBufferBytes: 4096 });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const before = logLinesDropped();
    try {
      for (let i = 0; i < 200; i++) dest.write(`${JSON.stringify({ msg: i })}\n`);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(logLinesDropped() - before).toBeGreaterThan(0);
  });
});
