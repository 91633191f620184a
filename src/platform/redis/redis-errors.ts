/** ioredis and Redis error text, matched here and nowhere else. */

/** ioredis's ways of saying "Redis is not there right now" (connection, retries, timeout, cluster). */
const UNAVAILABLE = [
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /Command timed out/i,
  /Reached the max retries per request limit/i,
  /connect ECONNREFUSED/i,
  /ClusterAllFailedError|Failed to refresh slots cache/i,
  /LOADING Redis is loading/i,
  /All sentinels are unreachable/i,
];

export function isRedisUnavailable(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'RedisBatchTimeout' ||
    UNAVAILABLE.some((re) => re.test(err.message))
  );
}

/** A command on a key of the wrong type (another service wrote a string where a hash belongs). */
export const isWrongType = (err: Error | null | undefined): boolean =>
  !!err && err.message.includes('WRONGTYPE');

/** The stream's consumer group is gone (the stream was deleted or recreated). */
export const isNoGroup = (err: Error): boolean => err.message.includes('NOGROUP');

/** XGROUP CREATE of a group that exists: the normal case at every start but the first. */
export const isBusyGroup = (err: Error): boolean => err.message.includes('BUSYGROUP');
