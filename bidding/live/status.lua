-- status.lua: move an auction through its lifecycle, atomically with its bids.
-- Mirrors bidding/auction.py (tick, cancel_auction, settle, void_bid) and, for the
-- japanese and dutch clock formats, bidding/price_clock.py (tick: open, end each level that
-- has ended, in order, start the next or close).
--
-- KEYS: the keys of one auction, as for bid.lua (m lad st tf px idem rl ev au fo).
-- ARGV:
--   1 now_ms   "": Redis's clock (TIME), the one every worker shares; tests pass a time
--   2 move     "tick": open and/or close as the time calls for (exactly once: the
--              status changes in this script, so concurrent callers see it changed);
--              "cancel" (scheduled|live); "award" | "no_award" (closed): ARGV[4]
--              the buyer's decision (msgpack map), kept in the audit entry only (the
--              public event says just the new status);
--              "void" (live|closed): ARGV[4] bid id, ARGV[5] company, ARGV[6] reason,
--              ARGV[7] the company's previous standing bid to restore (msgpack, or "");
--              "note" (scheduled|live|closed): ARGV[4] msgpack {kind, name, data, public}
--              puts an entry of ``kind`` on the audit chain (a clarification's question
--              or answer), and with ``public`` also an event for the fan-out; ``name``
--              makes it once: a note of a name already written writes nothing
--   3 maxlen   approximate cap of both streams
-- Returns msgpack {r="ok", status, ends, starts, due, epoch, events={...}, audit={...}}
-- (due: when the scheduler must tick it next, absent when never) or
-- {r="illegal", status}, {r="stale", status, bid_id} (an awarded bid no longer stands:
-- voided since the decision), {r="pending", status} (an award while SQL does not hold
-- every event yet: the closing barrier) or {r="missing"}.

local M, LAD, ST, EV, AU = KEYS[1], KEYS[2], KEYS[3], KEYS[8], KEYS[9]
local now, move, maxlen = tonumber(ARGV[1]), ARGV[2], ARGV[3]
if not now then  -- the one clock of every worker: Redis's own
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function S(n) return string.format('%d', n) end

if redis.call('EXISTS', M) == 0 then return cmsgpack.pack({r = 'missing'}) end
local status = redis.call('HGET', M, 'status')
local seq = tonumber(redis.call('HGET', M, 'seq'))
local aseq = tonumber(redis.call('HGET', M, 'aseq'))
local starts = tonumber(redis.call('HGET', M, 'starts'))
local ends = tonumber(redis.call('HGET', M, 'ends'))
local events, audits = {}, {}

local function record(kind, data, private, at)
  seq, aseq = seq + 1, aseq + 1
  data.seq, data.type, data.at = seq, kind, at or now
  local packed = cmsgpack.pack(data)
  redis.call('XADD', EV, 'MAXLEN', '~', maxlen, S(seq) .. '-0', 'seq', S(seq), 'd', packed)
  events[#events + 1] = data
  local entry = {aseq = aseq, kind = kind, at = data.at, seq = seq}
  for k, v in pairs(data) do if entry[k] == nil then entry[k] = v end end
  if private then entry.decision = private end
  local apacked = cmsgpack.pack(entry)
  redis.call('XADD', AU, 'MAXLEN', '~', maxlen, S(aseq) .. '-0', 'aseq', S(aseq), 'd', apacked)
  audits[#audits + 1] = entry
end
local function become(new, kind, private, at)
  status = new
  record(kind, {status = new, ends = ends}, private, at)
end

-- Clock formats (bidding/price_clock.py): level k runs from starts + k * interval to
-- starts + (k + 1) * interval at start -/+ k * step, clamped to the end price (the last
-- level). Events are stamped with the boundary at which they happened.
local fmt = redis.call('HGET', M, 'fmt')
local clocked = fmt == 'japanese' or fmt == 'dutch'
local lvl, interval, last, due = 0, 0, 0, nil
local c_start, c_step, c_end = 0, 0, 0
if clocked then
  lvl = tonumber(redis.call('HGET', M, 'lvl'))
  interval = tonumber(redis.call('HGET', M, 'ck_int')) * 1000
  c_start = tonumber(redis.call('HGET', M, 'ck_start'))
  c_step = tonumber(redis.call('HGET', M, 'ck_step'))
  c_end = tonumber(redis.call('HGET', M, 'ck_end'))
  last = math.floor((math.abs(c_end - c_start) + c_step - 1) / c_step)
end
local function level_end(l) return starts + (l + 1) * interval end
local function level_price(l)
  if c_end < c_start then return math.max(c_start - l * c_step, c_end) end
  return math.min(c_start + l * c_step, c_end)
end
local function start_level(l, active)
  lvl = l
  local kind = 'price'
  if fmt == 'japanese' then kind = 'round' end
  record(kind, {level = l, price = level_price(l), level_ends = level_end(l),
                active = active}, nil, starts + l * interval)
end
local function accepted_at(l)
  local n = 0
  local raw = redis.call('HVALS', ST)
  for _, packed in ipairs(raw) do
    if cmsgpack.unpack(packed).level == l then n = n + 1 end
  end
  return n
end
local function clock_tick()
  if status == 'scheduled' and now >= starts then
    become('live', 'opened', nil, starts)
    start_level(0, nil)
  end
  while status == 'live' and now >= level_end(lvl) do
    local at = level_end(lvl)
    local n = accepted_at(lvl)
    local closes
    if fmt == 'dutch' then closes = lvl == last
    else closes = n <= 1 or lvl == last end
    if closes then
      ends = at
      become('closed', 'closed', nil, at)
    elseif fmt == 'dutch' then
      start_level(lvl + 1, nil)
    else
      start_level(lvl + 1, n)
    end
  end
end

if move == 'tick' and clocked then
  clock_tick()
elseif move == 'tick' then
  if status == 'scheduled' and now >= starts then become('live', 'opened') end
  if status == 'live' and now >= ends then become('closed', 'closed') end
elseif move == 'cancel' and (status == 'scheduled' or status == 'live') then
  become('cancelled', 'cancelled')
elseif (move == 'award' or move == 'no_award') and status == 'closed' then
  -- The closing barrier: the buyer decided on SQL, which must hold every event the
  -- lot accepted (publish.lua moves dseq once it does).
  if tonumber(redis.call('HGET', M, 'dseq') or '0') < seq then
    return cmsgpack.pack({r = 'pending', status = status})
  end
  local decision = nil
  if ARGV[4] ~= '' then decision = cmsgpack.unpack(ARGV[4]) end
  -- Every awarded bid must still stand: an operator's void may have come in between the
  -- buyer's decision (read from SQL) and this move.
  for _, line in ipairs((decision and decision.awards) or {}) do
    local current = redis.call('HGET', ST, S(line.company))
    if not current or cmsgpack.unpack(current).bid_id ~= line.bid_id then
      return cmsgpack.pack({r = 'stale', status = status, bid_id = line.bid_id})
    end
  end
  if move == 'award' then become('awarded', 'awarded', decision)
  else become('no_award', 'no_award', decision) end
elseif move == 'void' and (status == 'live' or status == 'closed') then
  local bid_id, company = ARGV[4], ARGV[5]
  local current = redis.call('HGET', ST, company)
  if current then
    local bid = cmsgpack.unpack(current)
    if bid.bid_id == bid_id then
      redis.call('ZREM', LAD, bid.member)
      redis.call('HDEL', ST, company)
      if ARGV[7] ~= '' then
        local prev = cmsgpack.unpack(ARGV[7])
        redis.call('ZADD', LAD, S(prev.t), prev.member)
        redis.call('HSET', ST, company, ARGV[7])
      end
    end
  end
  record('voided', {bid_id = bid_id, company = company, reason = ARGV[6]})
elseif move == 'note' and (status == 'scheduled' or status == 'live' or status == 'closed') then
  local note = cmsgpack.unpack(ARGV[4])
  if redis.call('HSETNX', KEYS[6], 'note:' .. note.name, '1') == 1 then
    if note.public then
      record(note.kind, note.data)
    else
      aseq = aseq + 1
      local entry = note.data
      entry.aseq, entry.kind, entry.at = aseq, note.kind, now
      redis.call('XADD', AU, 'MAXLEN', '~', maxlen, S(aseq) .. '-0', 'aseq', S(aseq), 'd',
                 cmsgpack.pack(entry))
      audits[#audits + 1] = entry
    end
  end
elseif move ~= 'tick' then
  return cmsgpack.pack({r = 'illegal', status = status})
end

redis.call('HSET', M, 'status', status, 'seq', S(seq), 'aseq', S(aseq), 'ends', S(ends),
           'lvl', S(lvl))
if status == 'scheduled' then due = starts
elseif status == 'live' and clocked then due = level_end(lvl)
elseif status == 'live' then due = ends end
return cmsgpack.pack({r = 'ok', status = status, ends = ends, starts = starts, due = due,
                      epoch = tonumber(redis.call('HGET', M, 'epoch')),
                      events = events, audit = audits})
