/**
 * The Lua scripts of the Redis broker. Each runs atomically in Redis: publish assigns the offset,
 * stores the message and fans it out in one step, so every subscriber of every process sees one
 * order (docs/design/redis-broker.md says why a script and not MULTI).
 *
 * Keys of one channel share the hash tag `{channel}`:
 *   m  hash  e = epoch, o = last offset, t = history age limit (ms)
 *   s  stream of stored messages, id `<offset>-0`, fields t = time (ms), p = payload JSON
 *   iz zset  idempotency key -> time it was stored;  ih hash idempotency key -> offset
 *   pz zset  connection -> expiry time;  ph hash connection -> member JSON;  pc hash connection -> user;
 *   pu hash  user -> number of connections
 * Times are the broker's clock (passed in), so expiries follow an injected clock in tests; every
 * key also gets a real PEXPIRE so an abandoned channel goes away by itself.
 */

/** Shared helpers, prepended to the scripts that need them. */
const LIB = `
local function trimAge(s, now, ttl)
  if ttl <= 0 then return end
  local cutoff = now - ttl
  local oldest = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)
  if #oldest == 0 or tonumber(oldest[1][2][2]) > cutoff then return end
  for _ = 1, 200 do
    local batch = redis.call('XRANGE', s, '-', '+', 'COUNT', 64)
    if #batch == 0 then return end
    for i = 1, #batch do
      if tonumber(batch[i][2][2]) > cutoff then
        if i > 1 then redis.call('XTRIM', s, 'MINID', batch[i][1]) end
        return
      end
    end
    local last = tonumber(string.match(batch[#batch][1], '^(%d+)'))
    redis.call('XTRIM', s, 'MINID', string.format('%d-0', last + 1))
  end
end

local function channelMeta(m, s, candidate)
  local epoch = redis.call('HGET', m, 'e')
  if not epoch then
    epoch = candidate
    redis.call('DEL', s)
    redis.call('HSET', m, 'e', epoch, 'o', 0)
  end
  return epoch
end
`;

/**
 * publish: KEYS m s iz ih; ARGV now size ttl epochCandidate payload idempotencyKey window
 * keyTtl pubsubChannel publishCommand. Returns { epoch, offset, duplicate (0|1) }.
 */
export const PUBLISH_SCRIPT = `${LIB}
local now = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local key = ARGV[6]
local window = tonumber(ARGV[7])
local keyTtl = tonumber(ARGV[8])
local hadMeta = redis.call('EXISTS', KEYS[1]) == 1
local epoch = channelMeta(KEYS[1], KEYS[2], ARGV[4])
if not hadMeta then redis.call('DEL', KEYS[3], KEYS[4]) end
if key ~= '' then
  for _ = 1, 100 do
    local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - window, 'LIMIT', 0, 500)
    if #old == 0 then break end
    redis.call('HDEL', KEYS[4], unpack(old))
    redis.call('ZREM', KEYS[3], unpack(old))
  end
  local seen = redis.call('HGET', KEYS[4], key)
  if seen then return { epoch, tonumber(seen), 1 } end
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('HSET', KEYS[1], 't', ttl)
if size > 0 and ttl > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '=', size, string.format('%d-0', offset), 't', ARGV[1], 'p', ARGV[5])
  trimAge(KEYS[2], now, ttl)
  redis.call('PEXPIRE', KEYS[2], keyTtl)
end
if key ~= '' then
  redis.call('ZADD', KEYS[3], now, key)
  redis.call('HSET', KEYS[4], key, offset)
  redis.call('PEXPIRE', KEYS[3], keyTtl)
  redis.call('PEXPIRE', KEYS[4], keyTtl)
end
redis.call('PEXPIRE', KEYS[1], keyTtl)
redis.call(ARGV[10], ARGV[9], 'p' .. epoch .. '\\n' .. string.format('%d', offset) .. '\\n' .. ARGV[5])
return { epoch, offset, 0 }
`;

/**
 * history: KEYS m s; ARGV now epochCandidate sinceEpoch sinceOffset limit keyTtl.
 * sinceEpoch '' reads the newest `limit` (newest first); otherwise the oldest `limit` after
 * sinceOffset (none when the epoch differs). limit -1 is no limit.
 * Returns { epoch, offset, firstStoredOffset or -1, entries }.
 */
export const HISTORY_SCRIPT = `${LIB}
local now = tonumber(ARGV[1])
local epoch = channelMeta(KEYS[1], KEYS[2], ARGV[2])
local offset = tonumber(redis.call('HGET', KEYS[1], 'o'))
local ttl = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
trimAge(KEYS[2], now, ttl)
local keyTtl = tonumber(ARGV[6])
redis.call('PEXPIRE', KEYS[1], keyTtl)
local firstEntry = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local first = -1
if #firstEntry > 0 then first = tonumber(string.match(firstEntry[1][1], '^(%d+)')) end
local limit = tonumber(ARGV[5])
local entries = {}
if ARGV[3] == '' then
  if limit < 0 then entries = redis.call('XREVRANGE', KEYS[2], '+', '-')
  elseif limit > 0 then entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit) end
elseif ARGV[3] == epoch then
  local start = string.format('%d-0', tonumber(ARGV[4]) + 1)
  if limit < 0 then entries = redis.call('XRANGE', KEYS[2], start, '+')
  elseif limit > 0 then entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', limit) end
end
return { epoch, offset, first, entries }
`;

/** Presence helpers: expiry of entries (announcing users whose last connection went). */
const PRESENCE_LIB = `
local function leave(pz, ph, pc, pu, client, pubsub, cmd)
  local user = redis.call('HGET', pc, client)
  local member = redis.call('HGET', ph, client)
  redis.call('HDEL', ph, client)
  redis.call('HDEL', pc, client)
  redis.call('ZREM', pz, client)
  if not user then return end
  local n = redis.call('HINCRBY', pu, user, -1)
  if n <= 0 then
    redis.call('HDEL', pu, user)
    redis.call(cmd, pubsub, 'l' .. member)
  end
end

local function expire(pz, ph, pc, pu, now, pubsub, cmd)
  for _ = 1, 20 do
    local gone = redis.call('ZRANGEBYSCORE', pz, '-inf', now, 'LIMIT', 0, 500)
    if #gone == 0 then return end
    for i = 1, #gone do leave(pz, ph, pc, pu, gone[i], pubsub, cmd) end
  end
end
`;

/**
 * presenceAdd: KEYS pz ph pc pu; ARGV now pubsubChannel publishCommand client user memberJson
 * expires keyTtl.
 */
export const PRESENCE_ADD_SCRIPT = `${PRESENCE_LIB}
expire(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), ARGV[2], ARGV[3])
local client = ARGV[4]
local known = redis.call('HEXISTS', KEYS[2], client) == 1
redis.call('HSET', KEYS[2], client, ARGV[6])
redis.call('HSET', KEYS[3], client, ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[7], client)
if not known then
  local n = redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
  if n == 1 then redis.call(ARGV[3], ARGV[2], 'j' .. ARGV[6]) end
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
return 1
`;

/** presenceRemove: KEYS pz ph pc pu; ARGV now pubsubChannel publishCommand client. */
export const PRESENCE_REMOVE_SCRIPT = `${PRESENCE_LIB}
expire(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), ARGV[2], ARGV[3])
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then
  leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[4], ARGV[2], ARGV[3])
end
return 1
`;

/** presenceList: KEYS pz ph pc pu; ARGV now pubsubChannel publishCommand. Returns HGETALL ph after expiry. */
export const PRESENCE_LIST_SCRIPT = `${PRESENCE_LIB}
expire(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), ARGV[2], ARGV[3])
return redis.call('HGETALL', KEYS[2])
`;

/** keepAlive: KEYS m s iz ih pz ph pc pu; ARGV now pubsubChannel publishCommand keyTtl. Expires presence, renews keys. */
export const KEEPALIVE_SCRIPT = `${PRESENCE_LIB}
expire(KEYS[5], KEYS[6], KEYS[7], KEYS[8], tonumber(ARGV[1]), ARGV[2], ARGV[3])
for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return 1
`;
