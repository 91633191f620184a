/**
 * A process that logs through the service's logger (createPino's default destination, as main.ts
 * uses it) as fast as it can, for a parent that stops reading its stdout: the slow log sink of
 * issue 11 item 2. Every 100 ms it reports its heap and RSS on stderr as JSON; on SIGTERM it exits
 * the way the service does (process.exit after close), which runs pino's exit flush.
 * With `--lines=N` it logs N numbered lines and exits at once instead (a sink that keeps reading
 * must get them all).
 */
import { createPino } from '../../src/platform/logging/pino-logger.js';

const logger = createPino('info');
const linesArg = process.argv.find((a) => a.startsWith('--lines='));
if (linesArg) {
  const n = Number(linesArg.split('=')[1]);
  for (let i = 0; i < n; i++) logger.info({ msg: 'numbered', n: i, payload: 'y'.repeat(200) });
  process.exit(0);
}
const line = { msg: 'flood', payload: 'x'.repeat(400) };
let written = 0;
const report = setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(`${JSON.stringify({ heap: m.heapUsed, rss: m.rss, written })}\n`);
}, 100);
process.once('SIGTERM', () => {
  clearInterval(report);
  process.stderr.write(`${JSON.stringify({ sigterm: true, written })}\n`);
  process.exit(0);
});
const flood = () => {
  for (let i = 0; i < 2000; i++) {
    logger.info(line);
    written++;
  }
  setImmediate(flood);
};
flood();
