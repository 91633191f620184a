/**
 * Lua scripts of the risk policy over the `{p28:ops}` keys (one hash tag: atomic on any topology).
 * Node computes the entry and its hash; the script refuses when anything the hash depends on moved.
 */

/**
 * One policy change and its ledger entry, all or nothing.
 * KEYS: 1 policy hash, 2 ledger stream, 3 the day's sequence counter.
 * ARGV: 1 expected version, 2 expected chain head, 3 new sequence, 4 counter TTL (s), 5 changed_at,
 *   6 changed_by, 7 operation_id, 8 pub/sub channel, 9 genesis hash, 10 count N of policy strings,
 *   11..10+N the policy's field/value pairs, then the entry's field/value pairs.
 * Returns {'OK', stream id} or {'STALE'|'HEAD'|'SEQ', what was found}.
 */
export const POLICY_CHANGE_SCRIPT = `
local v = redis.call('HGET', KEYS[1], 'version')
local version = 0
if v and string.match(v, '^[0-9]+$') then version = tonumber(v) end
if version ~= tonumber(ARGV[1]) then return {'STALE', tostring(version)} end
local head = ARGV[9]
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #last > 0 then
  head = ''
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'hash' then head = f[i + 1] end
  end
end
if head ~= ARGV[2] then return {'HEAD', head} end
local seq = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if tonumber(ARGV[3]) <= seq then return {'SEQ', tostring(seq)} end
local n = tonumber(ARGV[10])
local policy = {}
for i = 11, 10 + n do policy[#policy + 1] = ARGV[i] end
local fields = {}
for i = 11 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
-- the stream write goes first: if it fails, nothing else has been written
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
redis.call('HSET', KEYS[1], 'version', tostring(version + 1), 'changed_at', ARGV[5],
  'changed_by', ARGV[6], 'operation_id', ARGV[7], unpack(policy))
redis.call('PUBLISH', ARGV[8], cjson.encode({version = version + 1, operation_id = ARGV[7]}))
return {'OK', id}
`;

/**
 * The policy a restored ledger implies, put back only when Redis holds an older version (or none).
 * KEYS: 1 policy hash. ARGV: 1 version, 2 changed_at, 3 changed_by, 4 operation_id, 5 channel,
 *   then the policy's field/value pairs. Returns 1 when it restored.
 */
export const POLICY_RESTORE_SCRIPT = `
local v = redis.call('HGET', KEYS[1], 'version')
local stored = -1
if v and string.match(v, '^[0-9]+$') then stored = tonumber(v) end
if stored >= tonumber(ARGV[1]) then return 0 end
local policy = {}
for i = 6, #ARGV do policy[#policy + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'changed_at', ARGV[2], 'changed_by', ARGV[3],
  'operation_id', ARGV[4], unpack(policy))
redis.call('PUBLISH', ARGV[5], cjson.encode({version = tonumber(ARGV[1]), operation_id = ARGV[4]}))
return 1
`;

/**
 * The environment seeds the policy only when Redis has none (a seed is not a change: no entry).
 * KEYS: 1 policy hash. ARGV: changed_at, changed_by, then the policy's field/value pairs.
 */
export const POLICY_SEED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local policy = {}
for i = 3, #ARGV do policy[#policy + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'version', '0', 'changed_at', ARGV[1], 'changed_by', ARGV[2], unpack(policy))
return 1
`;
