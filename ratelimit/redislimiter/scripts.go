package redislimiter

// Times inside the scripts are pairs of Unix seconds and nanoseconds: Lua's
// numbers are float64, exact up to 2⁵³, and a Unix time in nanoseconds is
// about 2⁶⁰. Only differences of times are computed in nanoseconds (at most
// a window or two apart, exact for windows up to 2⁵² ns, about 52 days), so
// the arithmetic is integer arithmetic carried in floats.
//
// ARGV[2] and ARGV[3] are the caller's clock (seconds, nanoseconds) or both
// empty, and then the script reads Redis' own clock (TIME): instances need
// not agree on the time. Since Redis 5 scripts replicate their effects, not
// their source, so reading TIME before writing is allowed.

// nowLua sets s and ns to the caller's clock or, when it sent none, Redis'
// own: the start of every script that reads the time.
const nowLua = `local s, ns = tonumber(ARGV[2]), tonumber(ARGV[3])
if not s then
  local t = redis.call('TIME')
  s, ns = tonumber(t[1]), tonumber(t[2]) * 1000
end
`

// allowScript is gcraScript for one key, answering one integer rather than
// a table: the backlog when n fits (and was charged), −1 − backlog when it
// does not (a sign is exact in a float, whatever the backlog). KEYS[1] is
// the key; ARGV is n, now (seconds, nanoseconds, or both empty), the count
// and the interval in ns.
var allowScript = newScript(`
local n, c, i = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5])
` + nowLua + `local u, v = 0, redis.call('GET', KEYS[1])
if v then
  u = (tonumber(string.sub(v, 1, -10)) - s) * 1e9 + tonumber(string.sub(v, -9)) - ns
  if u < 0 then u = 0 end
end
if n > c or u + n * i > c * i then return -1 - u end
if n > 0 then
  local t = ns + u + n * i
  redis.call('SET', KEYS[1], string.format('%d%09d', s + math.floor(t / 1e9), t % 1e9), 'PX', math.ceil((u + n * i) / 1e6))
end
return u
`)

// gcraScript decides n requests against the limit of every key, all or none
// (ratelimit.MultiLimiter), GCRA as the memory limiter does it. KEYS are the
// keys; ARGV is n, now (seconds, nanoseconds, or both empty), then the count
// and the interval (Window/Count in ns) of each key. A key holds its TAT in
// Unix nanoseconds as decimal digits and expires when the TAT passes.
//
// It returns {allowed, allowed₁, backlog₁, allowed₂, backlog₂, …}: backlog is
// TAT − now before the charge (0 for a key at full capacity), from which the
// caller computes Remaining, Reset and RetryAfter with integer arithmetic.
var gcraScript = newScript(`
local n = tonumber(ARGV[1])
` + nowLua + `local vals = redis.call('MGET', unpack(KEYS))
local out, ok = {1}, 1
for j = 1, #KEYS do
  local c, i = tonumber(ARGV[2*j+2]), tonumber(ARGV[2*j+3])
  local u, v = 0, vals[j]
  if v then
    u = (tonumber(string.sub(v, 1, -10)) - s) * 1e9 + tonumber(string.sub(v, -9)) - ns
    if u < 0 then u = 0 end
  end
  local a = 0
  if n <= c and u + n * i <= c * i then a = 1 else ok = 0 end
  out[2*j], out[2*j+1] = a, u
end
out[1] = ok
if ok == 1 and n > 0 then
  for j = 1, #KEYS do
    local u = out[2*j+1] + n * tonumber(ARGV[2*j+3])
    local t = ns + u
    redis.call('SET', KEYS[j], string.format('%d%09d', s + math.floor(t / 1e9), t % 1e9), 'PX', math.ceil(u / 1e6))
  end
end
return out
`)

// quotaScript charges n to the fixed windows of one quota key, all or none
// (ratelimit.QuotaCounter). KEYS[1] is the key's hash, a field per window
// name holding "<end>:<count>", end in Unix nanoseconds. ARGV is n, now
// (seconds, nanoseconds, or both empty), then for each window its name, Max,
// end in nanoseconds, and end again as seconds and nanoseconds. A field
// made for another end counts as zero; a window whose end has passed counts
// as zero and is not written. The hash expires when its latest window ends.
//
// It returns {allowed, used₁, used₂, …}: the counts before the charge.
var quotaScript = newScript(`
local n = tonumber(ARGV[1])
` + nowLua + `local m = (#ARGV - 3) / 5
local names = {}
for j = 1, m do names[j] = ARGV[5*j-1] end
local vals = redis.call('HMGET', KEYS[1], unpack(names))
local out, ok, last, live = {1}, 1, 0, {}
for j = 1, m do
  local b = 5*j-1
  local e, used = ARGV[b+2], 0
  local left = (tonumber(ARGV[b+3]) - s) * 1e9 + tonumber(ARGV[b+4]) - ns
  if left > 0 then
    live[j] = true
    if left > last then last = left end
    local v = vals[j]
    if v and string.sub(v, 1, #e + 1) == e .. ':' then used = tonumber(string.sub(v, #e + 2)) end
  end
  if used + n > tonumber(ARGV[b+1]) then ok = 0 end
  out[j+1] = used
end
out[1] = ok
if ok == 1 and n > 0 and last > 0 then
  local set = {}
  for j = 1, m do
    if live[j] then
      set[#set+1] = names[j]
      set[#set+1] = ARGV[5*j+1] .. string.format(':%d', out[j+1] + n)
    end
  end
  redis.call('HSET', KEYS[1], unpack(set))
  local ttl = math.ceil(last / 1e6)
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return out
`)
