import { describe, expect, it } from 'vitest';
import { LOG_PATH_MAX, logPath } from './log-path.js';

describe('logPath', () => {
  it('keeps the path, drops the query string, truncates a long path', () => {
    expect(logPath('/ops/mode?token=secret&x=1')).toBe('/ops/mode');
    expect(logPath('/ops/mode')).toBe('/ops/mode');
    const long = logPath(`/budgets/${'P'.repeat(5000)}?q=1`);
    expect(long.length).toBeLessThanOrEqual(LOG_PATH_MAX + 1);
    expect(long.startsWith('/budgets/PPP')).toBe(true);
    expect(long.endsWith('…')).toBe(true);
    expect(logPath(undefined)).toBe('');
    // control characters never reach a log line as such
    expect(logPath('/a\nb\u001b[31m')).toBe('/a?b?[31m');
  });
});
