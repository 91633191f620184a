/**
 * Lua scripts over the `{p28:ops}` keys. Each runs atomically on a single Redis, Sentinel or
 * Cluster (all keys share the hash tag). They compute nothing: Node computes the entry and its
 * hash, and the scripts refuse (so Node re-reads and retries, or answers 409) when anything the
 * hash depends on moved: the version, the chain head or the day's sequence.
 */

/** The hash of the stream's last entry, or the genesis hash when the stream is empty. */
const HEAD = `
local function chain_head(stream, genesis)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #last == 0 then return genesis end
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'hash' then return f[i + 1] end
  end
  return ''
end
local function stored_version(modekey, absent)
  local v = redis.call('HGET', modekey, 'version')
  if v and string.match(v, '^[0-9]+$') then return tonumber(v) end
  if v then return 0 end
  return absent
end
`;

/**
 * One mode change and its ledger entry, all or nothing.
 * KEYS: 1 mode hash, 2 overrides hash, 3 ledger stream, 4 the day's sequence counter.
 * ARGV: 1 expected version, 2 expected chain head, 3 the new sequence number (above the counter), 4 counter TTL (s),
 *   5 action (mode | override-set | override-clear | rollback), 6 global mode after the change,
 *   7 symbol, 8 override mode, 9 changed_at, 10 changed_by, 11 operation_id,
 *   12 expires_at ('' removes it, '-' keeps it), 13 pub/sub channel, 14 genesis hash,
 *   15 revert_to (the mode an expiry returns to; written with an expiry, removed with it),
 *   16 '1' when the mode key was unusable (another type, no valid mode) and the change, computed
 *   from the ledger's state (ARGV 1 its version), replaces it; 17.. the entry's field/value pairs.
 * Returns {'OK', stream id} or {'STALE'|'HEAD'|'SEQ'|'TYPE', what was found}; TYPE 'mode …' when the
 * mode key turned unusable after the read (Node re-reads).
 */
export const CHANGE_SCRIPT = `${HEAD}
local mtype = redis.call('TYPE', KEYS[1]).ok
local usable = mtype == 'none'
if mtype == 'hash' then
  local m = redis.call('HGET', KEYS[1], 'mode')
  usable = m == 'shadow' or m == 'enforce' or m == 'reduce_only' or redis.call('HLEN', KEYS[1]) == 0
end
local version
if ARGV[16] == '1' then
  -- the key was unusable when the change was computed: still so, or someone repaired it meanwhile
  if usable then return {'STALE', tostring(mtype == 'hash' and stored_version(KEYS[1], 0) or 0)} end
  version = tonumber(ARGV[1])
else
  if not usable then return {'TYPE', 'mode ' .. mtype} end
  version = stored_version(KEYS[1], 0)
  if version ~= tonumber(ARGV[1]) then return {'STALE', tostring(version)} end
end
local head = chain_head(KEYS[3], ARGV[14])
if head ~= ARGV[2] then return {'HEAD', head} end
local seq = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
-- the counter only moves up; a replica that saw higher ids before Redis lost the counter skips ahead
if tonumber(ARGV[3]) <= seq then return {'SEQ', tostring(seq)} end

-- an overrides key of another type would fail after the writes below: refuse before any
local otype = redis.call('TYPE', KEYS[2]).ok
if (ARGV[5] == 'override-set' or ARGV[5] == 'override-clear') and otype ~= 'hash' and otype ~= 'none' then
  return {'TYPE', otype}
end

local fields = {}
for i = 17, #ARGV do fields[#fields + 1] = ARGV[i] end
-- the stream write goes first: if it fails, nothing else has been written
local id = redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
if not usable then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'mode', ARGV[6], 'version', tostring(version + 1),
  'changed_at', ARGV[9], 'changed_by', ARGV[10], 'operation_id', ARGV[11])
if ARGV[12] == '' then
  redis.call('HDEL', KEYS[1], 'expires_at', 'revert_to')
elseif ARGV[12] ~= '-' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[12])
  if ARGV[15] == '' then
    redis.call('HDEL', KEYS[1], 'revert_to')
  else
    redis.call('HSET', KEYS[1], 'revert_to', ARGV[15])
  end
end
local action = ARGV[5]
if action == 'override-set' then
  redis.call('HSET', KEYS[2], ARGV[7], ARGV[8])
elseif action == 'override-clear' then
  redis.call('HDEL', KEYS[2], ARGV[7])
elseif action == 'rollback' then
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[13], cjson.encode({version = version + 1, operation_id = ARGV[11]}))
return {'OK', id}
`;

/**
 * P28_MODE seeds the mode only when Redis has none (no ledger entry: a seed is not a change).
 * KEYS: 1 mode hash. ARGV: 1 mode, 2 changed_at, 3 changed_by. Returns 1 when it seeded.
 */
export const SEED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'version', '0', 'changed_at', ARGV[2], 'changed_by', ARGV[3])
return 1
`;

/**
 * Re-appends ledger entries the stream lost (from the LEDGER_FILE mirror), with their original
 * fields and hashes, and restores the state they imply when Redis's state is older than them.
 * KEYS: 1 mode hash, 2 overrides hash, 3 ledger stream, 4.. the sequence counters of their days.
 * ARGV: 1 expected chain head, 2 genesis hash, 3 channel, 4 counter TTL (s),
 *   then one sequence value per counter key, then the state block:
 *   restore? ('1'|'0'), mode, version, changed_at, changed_by, operation_id, expires_at ('' for
 *   none), revert_to ('' for none), N, N override strings
 *   (symbol, mode, ...), then the entries, each as a count K followed by K field/value strings.
 * Returns {'OK', entries appended, 1 if the state was restored} or {'HEAD', found head}.
 */
export const RESTORE_SCRIPT = `${HEAD}
local head = chain_head(KEYS[3], ARGV[2])
if head ~= ARGV[1] then return {'HEAD', head} end
local p = 5
for k = 4, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[k]) or '0') or 0
  if tonumber(ARGV[p]) > cur then redis.call('SET', KEYS[k], ARGV[p], 'EX', ARGV[4]) end
  p = p + 1
end
local want_state = ARGV[p] == '1'
local s_mode, s_version, s_at, s_by, s_op = ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5]
local s_exp, s_rev = ARGV[p + 6], ARGV[p + 7]
local n_over = tonumber(ARGV[p + 8])
local over_from = p + 9
p = over_from + n_over
local appended = 0
while p <= #ARGV do
  local k = tonumber(ARGV[p])
  local fields = {}
  for i = p + 1, p + k do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[3], '*', unpack(fields))
  appended = appended + 1
  p = p + k + 1
end
local restored = 0
if want_state and stored_version(KEYS[1], -1) < tonumber(s_version) then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'mode', s_mode, 'version', s_version, 'changed_at', s_at,
    'changed_by', s_by, 'operation_id', s_op)
  if s_exp ~= '' then redis.call('HSET', KEYS[1], 'expires_at', s_exp) end
  if s_exp ~= '' and s_rev ~= '' then redis.call('HSET', KEYS[1], 'revert_to', s_rev) end
  for i = over_from, over_from + n_over - 1, 2 do
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  redis.call('PUBLISH', ARGV[3], cjson.encode({version = tonumber(s_version), operation_id = s_op}))
  restored = 1
end
return {'OK', appended, restored}
`;
