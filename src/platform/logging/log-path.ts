/** Longest path a log line carries: enough to tell routes apart, too short to carry a payload. */
export const LOG_PATH_MAX = 200;

/**
 * A request URL as a log field: the path only (the query string is the caller's to fill, and may hold
 * secrets or kilobytes), truncated, with control characters replaced so a line cannot be forged.
 */
export function logPath(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  // eslint-disable-next-line no-control-regex
  const clean = path.slice(0, LOG_PATH_MAX).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return path.length > LOG_PATH_MAX ? `${clean}…` : clean;
}
