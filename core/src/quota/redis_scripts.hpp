// The Lua scripts of the Redis state backend (redis_backend.cpp). Redis runs a script whole, with
// no other command in between, so each is one atomic step; the C++ side computes every rule it can
// (the limits in force, Pacific midnights, learning from 429s) and passes the results as
// arguments, so the scripts only count, compare and write. Not a public header.
//
// Layout, with P the key prefix and K = P:q:<credential fingerprint>:<model>:
//   K:w            sorted set: the window; member = ticket, score = admission time (epoch ms).
//                  RPM, TPM and IPM share it: one admission is one entry in all three, and one
//                  index makes the three checks one pass. Expires (TTL) a window after the last
//                  admission.
//   K:e            hash ticket -> "at requests tokens images settled day": the entry's amounts
//   K:sum          hash r, t, i: the running sums of K:w's entries (requests, tokens, images), so
//                  that admission costs the same with ten entries in the window or ten thousand.
//                  Changed with K:w, in the same script: + on admit and import, actual - estimate
//                  on settle, - on release and for each entry leaving the window (read once, as it
//                  leaves). Exists exactly while K:w does, with K:w's TTL; a missing one (keys of
//                  an older version, or evicted) is rebuilt from the entries once.
//   K:d:<day ms>   requests admitted on that Pacific day (RPD); expires at the next Pacific midnight
//   K:seq          ticket counter
//   K:rec, K:ver   learned state (JSON, as the SQLite store keeps it) and its version; the client
//                  caches the state and passes the version it computed limits from: a different
//                  version answers "stale" with the current record, and the client computes again
//   K:conf         the configured limits last used (reports only)
//   K:warn:<i>     when an 80% warning was last raised for dimension i (expires with its window / day)
//   P:keys         set of "<fingerprint>\t<model>" for reports
//   P:cost:h       hash hold id -> "amount created expires day month model"
//   P:cost:s:<p>:<start>, P:cost:c:<p>:<start>   spent, and committed (spent + held), per period
//   P:cost:a:<p>:<start>   set of the alert levels raised; P:cost:cap hash period -> cap
//   P:imp:<id>     an admission or spend made locally during an outage was counted in (once)
#pragma once

namespace nbcore::quota::detail::lua {

// Shared by the quota scripts: entries, the window's running sums, trimming and releasing.
inline constexpr const char* kEntryParse = R"lua(
local function parse_entry(e)
  local at, r, t, i, s, d = string.match(e, '^(%-?%d+) (%d+) (%d+) (%d+) (%d) (%-?%d+)$')
  return tonumber(at), tonumber(r), tonumber(t), tonumber(i), s == '1', d
end
-- The entries of these tickets (false where missing), read with HMGET in chunks: one call per
-- thousand entries instead of one per entry.
local function entries_of(K, tickets)
  local out = {}
  for i = 1, #tickets, 1000 do
    local chunk = {}
    for j = i, math.min(i + 999, #tickets) do chunk[#chunk + 1] = tickets[j] end
    local got = redis.call('HMGET', K .. ':e', unpack(chunk))
    for j = 1, #chunk do out[#out + 1] = got[j] end
  end
  return out
end
-- What a window entry counts: its amounts, or one request when they are gone (as it always has),
-- the same rule wherever the sums are added to, taken from or rebuilt, so they never drift.
local function window_amounts(e)
  if not e then return 1, 0, 0 end
  local _, r, t, i = parse_entry(e)
  return r, t, i
end
local function write_sums(K, s)
  -- K:w is gone once its last entry is: so are its sums.
  if redis.call('EXISTS', K .. ':w') == 0 then
    redis.call('DEL', K .. ':sum')
    s[1], s[2], s[3] = 0, 0, 0
    return
  end
  redis.call('HSET', K .. ':sum', 'r', string.format('%d', s[1]), 't', string.format('%d', s[2]),
             'i', string.format('%d', s[3]))
end
-- The running sums of K:w {requests, tokens, images}; rebuilt from the entries (once, O(entries))
-- when K:sum is missing.
local function window_sums(K)
  if redis.call('EXISTS', K .. ':w') == 0 then
    redis.call('DEL', K .. ':sum')
    return {0, 0, 0}
  end
  local got = redis.call('HMGET', K .. ':sum', 'r', 't', 'i')
  if got[1] and got[2] and got[3] then return {tonumber(got[1]), tonumber(got[2]), tonumber(got[3])} end
  local s = {0, 0, 0}
  local tickets = redis.call('ZRANGE', K .. ':w', 0, -1)
  local es = entries_of(K, tickets)
  for n = 1, #tickets do
    local r, t, i = window_amounts(es[n])
    s[1], s[2], s[3] = s[1] + r, s[2] + t, s[3] + i
  end
  write_sums(K, s)
  local ttl = redis.call('PTTL', K .. ':w')
  if ttl > 0 then redis.call('PEXPIRE', K .. ':sum', ttl) end
  return s
end
-- Adds (r, t, i) to the sums s (read by window_sums in this script, before K:w changed) and
-- stores them. A sum below zero can only come from keys changed behind the scripts' back: recount.
local function add_sums(K, s, r, t, i)
  s[1], s[2], s[3] = s[1] + r, s[2] + t, s[3] + i
  if s[1] < 0 or s[2] < 0 or s[3] < 0 then
    redis.call('DEL', K .. ':sum')
    local fresh = window_sums(K)
    s[1], s[2], s[3] = fresh[1], fresh[2], fresh[3]
    return
  end
  write_sums(K, s)
end
-- The entries of K:w at or before `from` (they have left the window by the caller's clock) and
-- what they count together.
local function expired(K, from)
  local gone = redis.call('ZRANGEBYSCORE', K .. ':w', '-inf', from)
  local es = entries_of(K, gone)
  local sum = {0, 0, 0}
  for n = 1, #gone do
    local r, t, i = window_amounts(es[n])
    sum[1], sum[2], sum[3] = sum[1] + r, sum[2] + t, sum[3] + i
  end
  return gone, es, sum
end
-- Drops the entries at or before `from` from the window, taking each from the sums as it leaves
-- (each entry leaves once, so this is amortized O(log n) per call). A settled entry is done with
-- (its day counter keeps it); an unsettled one stays in K:e until it is settled or released, so a
-- release can still give its day back. Returns the sums of what is left.
local function trim_window(K, from)
  local s = window_sums(K)
  local gone, es, sum = expired(K, from)
  if #gone == 0 then return s end
  for n = 1, #gone do
    if es[n] then
      local _, _, _, _, settled = parse_entry(es[n])
      if settled then redis.call('HDEL', K .. ':e', gone[n]) end
    end
  end
  redis.call('ZREMRANGEBYSCORE', K .. ':w', '-inf', from)
  add_sums(K, s, -sum[1], -sum[2], -sum[3])
  return s
end
local function release_entry(K, ticket)
  local e = redis.call('HGET', K .. ':e', ticket)
  if not e then return 0 end
  local at, r, t, i, settled, day = parse_entry(e)
  if settled then return 0 end
  -- Only an entry still in K:w is in the sums (one that left the window was taken out then).
  if redis.call('ZSCORE', K .. ':w', ticket) then
    local s = window_sums(K)
    redis.call('ZREM', K .. ':w', ticket)
    add_sums(K, s, -r, -t, -i)
  end
  redis.call('HDEL', K .. ':e', ticket)
  local dk = K .. ':d:' .. day
  if redis.call('EXISTS', dk) == 1 then redis.call('DECRBY', dk, r) end
  return 1
end
)lua";

// KEYS[1] = K, KEYS[2] = P:keys
// ARGV: 1 now, 2-4 demand (requests tokens images), 5-8 limits in force (RPM TPM IPM RPD; -1 none),
// 9-12 drained until (ms), 13 state version the limits came from, 14 take (0/1), 15 Pacific day
// start, 16 next Pacific midnight, 17 window ms, 18 keys-set member, 19 configured limits (JSON)
// Returns {0, version, record} when stale, else
// {1, verdict (0 now, 1 later), at, binding (1..4, 0 none), drained, ticket, used x4, warned x4}
// with used measured before this admission.
inline constexpr const char* kAdmit = R"lua(
local K = KEYS[1]
local ver = redis.call('GET', K .. ':ver') or '0'
if ver ~= ARGV[13] then return {0, ver, redis.call('GET', K .. ':rec') or ''} end
local now, win = tonumber(ARGV[1]), tonumber(ARGV[17])
local demand = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[2])}
local lims = {tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])}
-- When each dimension in `over` has room for the demand: entries leave the window in time order,
-- each a window after it was admitted. Only this answer walks entries, oldest first, in chunks
-- that grow, and only until every one fits. After the trim every entry of K:w is in the window,
-- so rank ranges walk it (O(log n + chunk) each; a score range with LIMIT offset costs O(offset)).
local function room_at(used, over)
  local at, u, pending = {}, {used[1], used[2], used[3]}, 0
  for d = 1, 3 do if over[d] then pending = pending + 1 end end
  local first, size = 0, 64
  while pending > 0 do
    local m = redis.call('ZRANGE', K .. ':w', first, first + size - 1, 'WITHSCORES')
    if #m == 0 then break end
    local tickets = {}
    for j = 1, #m, 2 do tickets[#tickets + 1] = m[j] end
    local es = entries_of(K, tickets)
    for n = 1, #tickets do
      local a = {window_amounts(es[n])}
      for d = 1, 3 do
        if over[d] and not at[d] then
          u[d] = u[d] - a[d]
          if u[d] + demand[d] <= lims[d] then at[d], pending = tonumber(m[2 * n]) + win, pending - 1 end
        end
      end
      if pending == 0 then break end
    end
    first, size = first + #tickets, math.min(size * 2, 1024)
  end
  return at
end
local sums = trim_window(K, now - win)
local used = {sums[1], sums[2], sums[3], 0}
local dayk = K .. ':d:' .. ARGV[15]
used[4] = tonumber(redis.call('GET', dayk) or '0')
local midnight = tonumber(ARGV[16])
local over = {}
for d = 1, 4 do over[d] = lims[d] >= 0 and used[d] + demand[d] > lims[d] end
local room = (over[1] or over[2] or over[3]) and room_at(used, over) or {}
local best, binding, drained = now, 0, 0
for d = 1, 4 do
  local at = now
  if over[d] then at = (d == 4) and midnight or room[d] or now end
  local dr, is_dr = tonumber(ARGV[8 + d]), 0
  if dr > at then at, is_dr = dr, 1 end
  if at > best then best, binding, drained = at, d, is_dr end
end
if best > now or ARGV[14] ~= '1' then
  return {1, best > now and 1 or 0, best, binding, drained, 0, used[1], used[2], used[3], used[4], 0, 0, 0, 0}
end
local ticket = redis.call('INCR', K .. ':seq')
redis.call('ZADD', K .. ':w', now, ticket)
redis.call('HSET', K .. ':e', ticket, string.format('%d %d %d %d 0 %s', now, demand[1], demand[2], demand[3], ARGV[15]))
add_sums(K, sums, demand[1], demand[2], demand[3])
redis.call('INCRBY', dayk, demand[1])
redis.call('PEXPIRE', dayk, math.max(1, midnight - now))
redis.call('PEXPIRE', K .. ':w', win + 1000)
redis.call('PEXPIRE', K .. ':sum', win + 1000)
redis.call('PEXPIRE', K .. ':e', 26 * 3600 * 1000)
redis.call('SADD', KEYS[2], ARGV[18])
redis.call('SET', K .. ':conf', ARGV[19])
local warned = {0, 0, 0, 0}
for d = 1, 4 do
  local lim = lims[d]
  if lim > 0 and (used[d] + demand[d]) * 100 >= lim * 80 then
    -- Once per window (per Pacific day for RPD), by the callers' clock; the TTL only tidies up.
    local wk = K .. ':warn:' .. d
    local last = tonumber(redis.call('GET', wk) or '-1')
    local fresh = (d == 4 and last >= tonumber(ARGV[15])) or (d < 4 and last > now - win)
    if last < 0 or not fresh then
      redis.call('SET', wk, now, 'PX', (d == 4) and math.max(1, midnight - now) or win)
      warned[d] = 1
    end
  end
end
return {1, 0, now, 0, 0, ticket, used[1], used[2], used[3], used[4], warned[1], warned[2], warned[3], warned[4]}
)lua";

// KEYS[1] = K. ARGV: 1 ticket, 2 tokens, 3 images.
// Returns {1, requests} when the entry was settled now, {0} otherwise.
inline constexpr const char* kSettle = R"lua(
local K = KEYS[1]
local e = redis.call('HGET', K .. ':e', ARGV[1])
if not e then return {0} end
local at, r, t, i, settled, day = parse_entry(e)
if settled then return {0} end
local tokens, images = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('ZSCORE', K .. ':w', ARGV[1]) then
  -- Still in the window: the actual amounts replace the estimate there and in the sums (read
  -- before the entry changes, in case they are rebuilt).
  local s = window_sums(K)
  redis.call('HSET', K .. ':e', ARGV[1], string.format('%d %d %d %d 1 %s', at, r, tokens, images, day))
  add_sums(K, s, 0, tokens - t, images - i)
else
  -- It has left the window (its day counter keeps it): nothing more counts it.
  redis.call('HDEL', K .. ':e', ARGV[1])
end
return {1, r}
)lua";

// KEYS[1] = K. ARGV: 1 ticket. Returns 1 when an unsettled entry was dropped.
inline constexpr const char* kRelease = R"lua(
return release_entry(KEYS[1], ARGV[1])
)lua";

// KEYS[1] = K. ARGV: 1 now, 2 window ms, 3 Pacific day start.
// Returns {version, record, used RPM, TPM, IPM, requests today}.
inline constexpr const char* kRead = R"lua(
local K = KEYS[1]
-- The sums less what has left the window by this clock; nothing is removed here (a report may
-- come with any clock, tests' simulated ones included): the next admission trims.
local used = window_sums(K)
local _, _, gone = expired(K, tonumber(ARGV[1]) - tonumber(ARGV[2]))
for d = 1, 3 do used[d] = used[d] - gone[d] end
return {redis.call('GET', K .. ':ver') or '0', redis.call('GET', K .. ':rec') or '',
        used[1], used[2], used[3], tonumber(redis.call('GET', K .. ':d:' .. ARGV[3]) or '0')}
)lua";

// Compare-and-set of the learned state. KEYS[1] = K, KEYS[2] = P:keys.
// ARGV: 1 expected version, 2 record, 3 ticket to release in the same step (0 none), 4 member.
// Returns {1, new version} or {0, version, record} when another worker changed it first.
inline constexpr const char* kPutRecord = R"lua(
local K = KEYS[1]
local ver = redis.call('GET', K .. ':ver') or '0'
if ver ~= ARGV[1] then return {0, ver, redis.call('GET', K .. ':rec') or ''} end
redis.call('SET', K .. ':rec', ARGV[2])
local nv = redis.call('INCR', K .. ':ver')
redis.call('SADD', KEYS[2], ARGV[4])
if ARGV[3] ~= '0' then release_entry(K, ARGV[3]) end
return {1, tostring(nv)}
)lua";

// Counts in an admission made locally while Redis was unreachable, once: P:imp:<id> remembers it
// (and the ticket it became). KEYS[1] = K, KEYS[2] = P:imp:<id>, KEYS[3] = P:keys.
// ARGV: 1 at, 2-4 requests tokens images, 5 settled (0/1), 6 its Pacific day start, 7 the current
// one, 8 next Pacific midnight, 9 now, 10 window ms, 11 member.
// Returns the Redis ticket (0 when it no longer counts anywhere).
inline constexpr const char* kImport = R"lua(
local K = KEYS[1]
local done = redis.call('GET', KEYS[2])
if done then return tonumber(done) end
local at, now, win = tonumber(ARGV[1]), tonumber(ARGV[9]), tonumber(ARGV[10])
local ticket = 0
local in_window = at > now - win
local today = ARGV[6] == ARGV[7]
if in_window or (today and ARGV[5] == '0') then
  ticket = redis.call('INCR', K .. ':seq')
  redis.call('HSET', K .. ':e', ticket, string.format('%d %d %d %d %s %s', at, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]))
  redis.call('PEXPIRE', K .. ':e', 26 * 3600 * 1000)
end
if in_window then
  local s = window_sums(K)
  redis.call('ZADD', K .. ':w', at, ticket)
  add_sums(K, s, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
  redis.call('PEXPIRE', K .. ':w', win + 1000)
  redis.call('PEXPIRE', K .. ':sum', win + 1000)
end
if today then
  local dk = K .. ':d:' .. ARGV[6]
  redis.call('INCRBY', dk, tonumber(ARGV[2]))
  redis.call('PEXPIRE', dk, math.max(1, tonumber(ARGV[8]) - now))
end
redis.call('SADD', KEYS[3], ARGV[11])
redis.call('SET', KEYS[2], ticket, 'PX', 3 * 24 * 3600 * 1000)
return ticket
)lua";

// ---- cost ----------------------------------------------------------------------------------

// Shared by the cost scripts. C = P:cost. Holds past their lease are booked as spent at their full
// amount (committed does not change: held becomes spent).
inline constexpr const char* kCostCommon = R"lua(
local C = KEYS[1]
local function starts(day, month) return {day, month, '0'} end
local function ttl_of(p) if p == 0 then return 40 * 86400000 elseif p == 1 then return 400 * 86400000 end return nil end
local function bump(kind, p, start, amount)
  local k = C .. ':' .. kind .. ':' .. p .. ':' .. start
  redis.call('INCRBY', k, amount)
  local ttl = ttl_of(p)
  if ttl then redis.call('PEXPIRE', k, ttl) end
end
local function parse_hold(h)
  local amount, created, expires, day, month, model = string.match(h, '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (.*)$')
  return tonumber(amount), tonumber(expires), day, month, model
end
local function expire_holds(now)
  local all = redis.call('HGETALL', C .. ':h')
  for j = 1, #all, 2 do
    local amount, expires, day, month = parse_hold(all[j + 1])
    if expires <= now then
      local s = starts(day, month)
      for p = 0, 2 do bump('s', p, s[p + 1], amount) end
      redis.call('HDEL', C .. ':h', all[j])
    end
  end
end
local function committed(p, start) return tonumber(redis.call('GET', C .. ':c:' .. p .. ':' .. start) or '0') end
-- Alert levels crossed upwards (before < level% of cap <= after), each once per period.
local function alerts(out, p, start, before, after, cap)
  if cap <= 0 or after <= before then return end
  for _, level in ipairs({50, 80, 100}) do
    local thr = cap * level
    if before * 100 < thr and thr <= after * 100 then
      if redis.call('SADD', C .. ':a:' .. p .. ':' .. start, level) == 1 then
        local ttl = ttl_of(p)
        if ttl then redis.call('PEXPIRE', C .. ':a:' .. p .. ':' .. start, ttl) end
        out[#out + 1] = p; out[#out + 1] = level; out[#out + 1] = after; out[#out + 1] = cap
      end
    end
  end
end
local function remember_caps(first)
  for p = 0, 2 do redis.call('HSET', C .. ':cap', p, ARGV[first + p]) end
end
)lua";

// KEYS[1] = C. ARGV: 1 now, 2 amount, 3 expires, 4 day start, 5 month start, 6 model, 7-9 caps
// (micro-USD, -1 none). Returns {0, period, committed, cap} or {1, hold, alerts...} (4 per alert).
inline constexpr const char* kReserve = R"lua(
local now, amount = tonumber(ARGV[1]), tonumber(ARGV[2])
expire_holds(now)
remember_caps(7)
local s = starts(ARGV[4], ARGV[5])
local before = {}
for p = 0, 2 do
  before[p] = committed(p, s[p + 1])
  local cap = tonumber(ARGV[7 + p])
  if cap >= 0 and before[p] + amount > cap then return {0, p, before[p], cap} end
end
local id = redis.call('INCR', C .. ':seq')
redis.call('HSET', C .. ':h', id, string.format('%d %d %d %s %s %s', amount, now, tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]))
local out = {1, id}
for p = 0, 2 do
  bump('c', p, s[p + 1], amount)
  alerts(out, p, s[p + 1], before[p], before[p] + amount, tonumber(ARGV[7 + p]))
end
return out
)lua";

// KEYS[1] = C. ARGV: 1 now, 2 hold, 3 actual, 4-6 caps. Returns {0} (not found) or {1, alerts...}.
inline constexpr const char* kSettleCost = R"lua(
local now, actual = tonumber(ARGV[1]), tonumber(ARGV[3])
expire_holds(now)
remember_caps(4)
local h = redis.call('HGET', C .. ':h', ARGV[2])
if not h then return {0} end
local amount, _, day, month = parse_hold(h)
local s = starts(day, month)
local out = {1}
for p = 0, 2 do
  local before = committed(p, s[p + 1])
  bump('s', p, s[p + 1], actual)
  bump('c', p, s[p + 1], actual - amount)
  alerts(out, p, s[p + 1], before, before - amount + actual, tonumber(ARGV[4 + p]))
end
redis.call('HDEL', C .. ':h', ARGV[2])
return out
)lua";

// KEYS[1] = C. ARGV: 1 now, 2 hold.
inline constexpr const char* kReleaseCost = R"lua(
expire_holds(tonumber(ARGV[1]))
local h = redis.call('HGET', C .. ':h', ARGV[2])
if not h then return 0 end
local amount, _, day, month = parse_hold(h)
local s = starts(day, month)
for p = 0, 2 do bump('c', p, s[p + 1], -amount) end
redis.call('HDEL', C .. ':h', ARGV[2])
return 1
)lua";

// Books spend settled locally during an outage, once. KEYS[1] = C, KEYS[2] = P:imp:<id>.
// ARGV: 1 amount, 2 day start, 3 month start. Returns 1 when booked now.
inline constexpr const char* kBookSpent = R"lua(
if not redis.call('SET', KEYS[2], 1, 'NX', 'PX', 3 * 24 * 3600 * 1000) then return 0 end
local s = starts(ARGV[2], ARGV[3])
for p = 0, 2 do
  bump('s', p, s[p + 1], tonumber(ARGV[1]))
  bump('c', p, s[p + 1], tonumber(ARGV[1]))
end
return 1
)lua";

// KEYS[1] = C, KEYS[2] = P:keys, KEYS[3] = P:q. ARGV: 1 now, 2 window ms, 3 day start, 4 month
// start. Returns JSON: {"keys": [{"member", "rec", "conf", "entries": [[at, r, t, i]], "today",
// "unsettled"}], "caps": [[spent, committed, cap]] per period, "holds": n}.
inline constexpr const char* kSnapshot = R"lua(
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
expire_holds(now)
local keys = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local K = KEYS[3] .. ':' .. string.gsub(member, '\t', ':')
  local entries, unsettled = {}, 0
  for _, t in ipairs(redis.call('ZRANGEBYSCORE', K .. ':w', '(' .. (now - win), '+inf')) do
    local e = redis.call('HGET', K .. ':e', t)
    if e then
      local at, r, tk, i = parse_entry(e)
      entries[#entries + 1] = {at, r, tk, i}
    end
  end
  for _, e in pairs(redis.call('HVALS', K .. ':e')) do
    local _, _, _, _, settled, day = parse_entry(e)
    if not settled and day == ARGV[3] then unsettled = unsettled + 1 end
  end
  keys[#keys + 1] = {member = member, rec = redis.call('GET', K .. ':rec') or '',
                     conf = redis.call('GET', K .. ':conf') or '', entries = entries,
                     today = tonumber(redis.call('GET', K .. ':d:' .. ARGV[3]) or '0'), unsettled = unsettled}
end
local s = starts(ARGV[3], ARGV[4])
local caps = {}
for p = 0, 2 do
  caps[p + 1] = {tonumber(redis.call('GET', C .. ':s:' .. p .. ':' .. s[p + 1]) or '0'), committed(p, s[p + 1]),
                 tonumber(redis.call('HGET', C .. ':cap', p) or '-1')}
end
return cjson.encode({keys = keys, caps = caps, holds = redis.call('HLEN', C .. ':h')})
)lua";

}  // namespace nbcore::quota::detail::lua
