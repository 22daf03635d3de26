-- bid.lua: validate, rank and record one bid of a reverse_english or sealed auction,
-- atomically, including the soft close and the proxy bids that answer it; set a
-- supplier's proxy floor (op "proxy"); or, in a japanese or dutch clock auction, accept
-- the current level's price (op "bid" with that price). It mirrors bidding/decide.py,
-- bidding/auction.py (place_bid, set_proxy, _record, _run_proxies) and bidding/price_clock.py
-- (accept) exactly; tests/bidding/test_lua.py checks them against each other.
--
-- KEYS (all share the hash tag {a:<id>}, see rfq/platform/keys.py):
--   1 m     hash    status fmt starts ends ext seq aseq epoch ceiling reserve dec_amt
--                   dec_bps dec_from ties sc_win sc_ext sc_trig sc_topn sc_max rl_int
--                   rl_burst id, and for clock formats ck_start ck_step ck_int ck_end
--                   lvl (the current level; status.lua's tick moves it), pre ("1": the
--                   lot takes pre-bids while scheduled, before its start)
--   2 lad   zset    member "<seq %012d>:<company>", score = transformed price
--   3 st    hash    company -> msgpack {bid_id, price, t, seq, at, proxy, member, level,
--                   sur, pre} (level: clock formats, the level the bid accepted; pre:
--                   a pre-bid, placed before the opening)
--   4 tf    hash    company -> "multiplier_bps:adder"
--   5 px    hash    company -> proxy floor
--   6 idem  hash    "<company>:<key>" -> msgpack outcome (the first one)
--   7 rl    hash    company -> rate-limit arrival time (GCRA)
--   8 ev    stream  public events, id "<seq>-0", fields seq, d (msgpack)
--   9 au    stream  audit records, id "<aseq>-0", fields aseq, d (msgpack)
--  10 fo    stream  the events SQL holds (publish.lua copies them from ev; not used here)
-- ARGV:
--   1 now_ms     "": Redis's clock (TIME), the one every worker shares; tests pass a time
--   2 company    the bidder's company id (text)
--   3 price      minor units (text)
--   4 key        the client's idempotency key
--   5 eligible   "1", or "0" when the app found the bidder not eligible
--   6 commit     sealed: sha256 commitment of the bid; else ""
--   7 nonce      sealed: the commitment's nonce (kept in the audit stream only); else ""
--   8 maxlen     approximate cap of both streams
--   9 op         "bid"; "proxy" (ARGV[3] is then the floor); "unproxy" (clears it)
--  10 by         a surrogate bid: the user id of the buyer or operator placing it on the
--                supplier's behalf (kept on the bid as ``sur`` and in the audit entry); else ""
--  11 reason     a surrogate bid's reason (the audit entry only); else ""
-- Returns a msgpack map:
--   {r="ok", bid={...}, rank, ends, ext, extended, epoch, outbid?, events={...}, audit={...}}
--     (outbid: the company that led before this bid and no longer does; not for sealed)
--   {r="rejected", code, min (absent if none), audit={maps...}}
--   {r="replay", o=<the first outcome's map>}
--   {r="limited", retry_ms}     rate limited: not recorded, not stored
--   {r="missing"}               the auction is not loaded in Redis
--   {r="tick"}                  a clock auction's level (or start) is due: the caller
--                               runs status.lua's tick and calls again; nothing changed
-- Outcomes other than "limited" and a "not_eligible" rejection are stored under the key.

local M, LAD, ST, TF, PX, IDEM, RL, EV, AU =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now = tonumber(ARGV[1])
if not now then  -- the one clock of every worker: Redis's own
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local company = ARGV[2]
local price_text = ARGV[3]
local idem_field = company .. ':' .. ARGV[4]
local maxlen = ARGV[8]

local function S(n) return string.format('%d', n) end
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

local prior = redis.call('HGET', IDEM, idem_field)
if prior then return cmsgpack.pack({r = 'replay', o = cmsgpack.unpack(prior)}) end
if redis.call('EXISTS', M) == 0 then return cmsgpack.pack({r = 'missing'}) end

local m = {}
local raw = redis.call('HGETALL', M)
for i = 1, #raw, 2 do m[raw[i]] = raw[i + 1] end
local seq, aseq = tonumber(m.seq), tonumber(m.aseq)
local ends, ext = tonumber(m.ends), tonumber(m.ext)
local ceiling = tonumber(m.ceiling)
local dec_amt, dec_bps = tonumber(m.dec_amt), tonumber(m.dec_bps)
local dec_best = m.dec_from == 'best'
local ties_rejected = m.ties == 'rejected'
local sealed = m.fmt == 'sealed'

local clocked = m.fmt == 'japanese' or m.fmt == 'dutch'
if clocked then
  local level_ends = tonumber(m.starts) + (tonumber(m.lvl) + 1) * tonumber(m.ck_int) * 1000
  if (m.status == 'scheduled' and now >= tonumber(m.starts))
      or (m.status == 'live' and now >= level_ends) then
    return cmsgpack.pack({r = 'tick'})
  end
end

-- Rate limit (GCRA per company): not recorded anywhere.
local rl_int, rl_burst = tonumber(m.rl_int), tonumber(m.rl_burst)
if rl_int and rl_int > 0 then
  local tat = tonumber(redis.call('HGET', RL, company) or now)
  if tat < now then tat = now end
  local new_tat = tat + rl_int
  if now < new_tat - rl_burst then
    return cmsgpack.pack({r = 'limited', retry_ms = new_tat - rl_burst - now})
  end
  redis.call('HSET', RL, company, S(new_tat))
end

local events, audits = {}, {}
local function audit(kind, data)
  aseq = aseq + 1
  data.aseq, data.kind, data.at = aseq, kind, now
  local packed = cmsgpack.pack(data)
  redis.call('XADD', AU, 'MAXLEN', '~', maxlen, S(aseq) .. '-0', 'aseq', S(aseq), 'd', packed)
  audits[#audits + 1] = data
end
local function event(kind, data)
  seq = seq + 1
  data.seq, data.type, data.at = seq, kind, now
  local packed = cmsgpack.pack(data)
  redis.call('XADD', EV, 'MAXLEN', '~', maxlen, S(seq) .. '-0', 'seq', S(seq), 'd', packed)
  events[#events + 1] = data
  return seq
end
local function finish(out, store)
  redis.call('HSET', M, 'seq', S(seq), 'aseq', S(aseq), 'ends', S(ends), 'ext', S(ext))
  out.events, out.audit, out.epoch = events, audits, tonumber(m.epoch)
  local packed = cmsgpack.pack(out)
  if store then redis.call('HSET', IDEM, idem_field, packed) end
  return packed
end
local decided = m.status == 'awarded' or m.status == 'no_award' or m.status == 'cancelled'
local function reject(code, min_acc, store)
  -- A decided auction's audit numbers belong to SQL (contract entries follow the award;
  -- bidding/live/journal.py append), so rejections there are answered but not audited.
  if not decided then
    local data = {company = company, price = price_text, code = code, key = ARGV[4]}
    if ARGV[10] and ARGV[10] ~= '' then data.by = ARGV[10] end
    audit('bid_rejected', data)
  end
  return finish({r = 'rejected', code = code, min = min_acc}, store)
end

if ARGV[5] ~= '1' then return reject('not_eligible', nil, false) end
if m.fmt ~= 'reverse_english' and (ARGV[9] ~= 'bid' or not (sealed or clocked)) then
  return reject('wrong_format', nil, true)
end
local scheduled_proxy = ARGV[9] ~= 'bid' and m.status == 'scheduled'
-- a pre-bid (auction.pre_bid_phase): blind, checked against the ceiling and the bidder's
-- own pre-bid only, with no rank, soft close, proxy answer or outbid
local prebid = ARGV[9] == 'bid' and m.pre == '1' and m.status == 'scheduled'
  and now < tonumber(m.starts)
if not (scheduled_proxy or prebid)
    and (m.status ~= 'live' or now < tonumber(m.starts) or now >= ends) then
  return reject('auction_not_live', nil, true)
end
if prebid then dec_best, ties_rejected = false, false end

-- decide.py ----------------------------------------------------------------------
local function transform(c)
  local t = redis.call('HGET', TF, c)
  if not t then return 10000, 0 end
  local mul, add = string.match(t, '^(%-?%d+):(%-?%d+)$')
  return tonumber(mul), tonumber(add)
end
local function standing(c)
  local s = redis.call('HGET', ST, c)
  if s then return cmsgpack.unpack(s) end
  return nil
end
local function best()
  local r = redis.call('ZRANGE', LAD, 0, 0, 'WITHSCORES')
  if #r == 0 then return nil, nil end
  return tonumber(r[2]), string.sub(r[1], 14)
end
local function min_dec(ref)
  if dec_amt then return dec_amt end
  local d = -fdiv(-ref * dec_bps, 10000)
  if d < 1 then d = 1 end
  return d
end
local function situation(c)
  local mul, add = transform(c)
  local own = standing(c)
  local bt = nil
  if not prebid then bt = best() end
  return {mul = mul, add = add, own = own and own.price or nil, best = bt}
end
local function tie_price(s, t) return fdiv(t - s.add * 10000, s.mul) end
local function own_bound(own)
  if dec_best then return own - 1 end
  return own - min_dec(own)
end
local function best_bound(s)
  local tie = tie_price(s, s.best)
  return tie - min_dec(tie)
end
local function price_bound(s)
  local bound = ceiling
  if s.own then bound = math.min(bound, own_bound(s.own)) end
  if dec_best and s.best then bound = math.min(bound, best_bound(s)) end
  return bound
end
local function taken(c, t)
  local members = redis.call('ZRANGEBYSCORE', LAD, S(t), S(t))
  for _, member in ipairs(members) do
    if string.sub(member, 14) ~= c then return true end
  end
  return false
end
local function highest_acceptable(c, s)
  local p = price_bound(s)
  if ties_rejected then
    while p >= 1 and taken(c, p * s.mul + s.add * 10000) do p = p - 1 end
  end
  if p >= 1 then return p end
  return nil
end
local function problem(c, s, p)
  if p > ceiling then return 'above_ceiling' end
  if s.own and p >= s.own then return 'below_decrement' end
  if s.own and p > own_bound(s.own) then return 'below_decrement' end
  if dec_best and s.best and p > best_bound(s) then return 'below_decrement' end
  if ties_rejected and taken(c, p * s.mul + s.add * 10000) then return 'tie_not_allowed' end
  return nil
end
local function lead_range(c, s, floor)
  if not s.best then return nil end
  local high = math.min(price_bound(s), tie_price(s, s.best - 1))
  if 1 <= floor and floor <= high then return floor, high end
  return nil
end

-- auction.py ---------------------------------------------------------------------
local function rank(c)
  local own = standing(c)
  if not own then return nil end
  return redis.call('ZRANK', LAD, own.member) + 1
end
local placed = {}
local function record(c, p, t, proxy, level)
  local before = standing(c)
  if before then redis.call('ZREM', LAD, before.member) end
  local s = seq + 1
  local bid_id = m.id .. '.' .. m.epoch .. (proxy and ':p' or '-') .. S(s)
  local member = string.format('%012d', s) .. ':' .. c
  local sur = nil
  if not proxy and ARGV[10] and ARGV[10] ~= '' then sur = ARGV[10] end
  local pre = nil
  if prebid then pre = true end
  local bid = {bid_id = bid_id, company = c, price = p, t = t, seq = s, at = now,
               proxy = proxy, commit = ARGV[6], level = level, sur = sur, pre = pre}
  redis.call('ZADD', LAD, S(t), member)
  redis.call('HSET', ST, c, cmsgpack.pack({bid_id = bid_id, price = p, t = t, seq = s,
                                           at = now, proxy = proxy, member = member,
                                           level = level, sur = sur, pre = pre}))
  event('bid', bid)
  local data = {company = c, price = p, t = t, bid_id = bid_id, proxy = proxy, seq = s,
                level = level}
  if sealed then data.commit, data.nonce = ARGV[6], ARGV[7] end
  if not proxy then data.key = ARGV[4] end
  if sur then data.by, data.reason = sur, ARGV[11] end
  audit('bid_accepted', data)
  placed[#placed + 1] = bid
  -- soft close (decide.extension_end)
  local win = tonumber(m.sc_win)
  if win and not prebid and now >= ends - win * 1000 then
    local max = tonumber(m.sc_max)
    local r = rank(c)
    local fires = (m.sc_trig == 'any') or (m.sc_trig == 'leader' and r == 1)
      or (m.sc_trig == 'top_n' and r <= tonumber(m.sc_topn))
    if (not max or ext < max) and fires then
      local new_end = now + tonumber(m.sc_ext) * 1000
      if new_end > ends then
        ends, ext = new_end, ext + 1
        event('extended', {ends = ends, ext = ext})
        audit('extended', {ends = ends, ext = ext, by = bid_id})
      end
    end
  end
  return bid
end

local function limit(c, floor)
  local mul, add = transform(c)
  return floor * mul + add * 10000
end
local function run_proxies()
  local floors = {}
  local raw_px = redis.call('HGETALL', PX)
  for i = 1, #raw_px, 2 do floors[raw_px[i]] = tonumber(raw_px[i + 1]) end
  local names = {}
  for c in pairs(floors) do names[#names + 1] = c end
  if #names == 0 then return end
  table.sort(names)
  while true do
    local bt, leader = best()
    if not bt then return end
    local contenders, is_contender = {}, {}
    for _, c in ipairs(names) do
      if c ~= leader and lead_range(c, situation(c), floors[c]) then
        contenders[#contenders + 1] = c
        is_contender[c] = true
      end
    end
    if #contenders == 0 then return end
    local strongest, strong_limit = nil, nil
    local rivals = {}
    for _, c in ipairs(contenders) do rivals[#rivals + 1] = c end
    if floors[leader] then rivals[#rivals + 1] = leader end
    for _, c in ipairs(rivals) do
      local l = limit(c, floors[c])
      if not strongest or l < strong_limit or (l == strong_limit and c < strongest) then
        strongest, strong_limit = c, l
      end
    end
    local weaker = {}
    for _, c in ipairs(contenders) do
      if c ~= strongest then weaker[#weaker + 1] = {c = c, l = limit(c, floors[c])} end
    end
    table.sort(weaker, function(a, b)
      if a.l ~= b.l then return a.l > b.l end
      return a.c < b.c
    end)
    for _, w in ipairs(weaker) do
      local s = situation(w.c)
      local lo = lead_range(w.c, s, floors[w.c])
      if lo then
        local mul, add = s.mul, s.add
        record(w.c, lo, lo * mul + add * 10000, true)
      end
    end
    if is_contender[strongest] then
      local s = situation(strongest)
      local lo, hi = lead_range(strongest, s, floors[strongest])
      if lo then record(strongest, hi, hi * s.mul + s.add * 10000, true) end
    end
  end
end

-- set_proxy, clear_proxy ---------------------------------------------------------
if ARGV[9] == 'unproxy' then
  redis.call('HDEL', PX, company)
  audit('proxy_cleared', {company = company})
  return finish({r = 'ok'}, true)
end
if ARGV[9] == 'proxy' then
  local floor = tonumber(price_text)
  if not floor or floor ~= math.floor(floor) or floor < 1 or floor > ceiling then
    return reject('invalid_price', nil, true)
  end
  redis.call('HSET', PX, company, S(floor))
  audit('proxy_set', {company = company, floor = floor})
  if m.status == 'live' then run_proxies() end
  local proxy_rank = nil  -- before the opening a rank would tell of the pre-bids
  if m.status == 'live' then proxy_rank = rank(company) end
  return finish({r = 'ok', rank = proxy_rank, ends = ends, ext = ext,
                 extended = #events > #placed}, true)
end

-- clock.accept -------------------------------------------------------------------
-- The price must be the current level's (a stale or made-up price is refused with the
-- current one); accepting a level twice changes nothing; a japanese supplier that did
-- not accept the level before is out; in a dutch clock the first acceptance wins and
-- closes the auction. Clocks rank by price alone (no transforms): the ladder's first
-- bid is the winner (the last level's first acceptance).
if clocked then
  local lvl = tonumber(m.lvl)
  local start, step, stop = tonumber(m.ck_start), tonumber(m.ck_step), tonumber(m.ck_end)
  local current
  if stop < start then current = math.max(start - lvl * step, stop)
  else current = math.min(start + lvl * step, stop) end
  local price = tonumber(price_text)
  if price ~= current then return reject('price_not_current', current, true) end
  local own = standing(company)
  if own and own.level == lvl then
    return finish({r = 'ok', rank = rank(company), ends = ends, ext = ext, extended = false,
                   bid = {bid_id = own.bid_id, company = company, price = own.price,
                          t = own.t, seq = own.seq, at = own.at, level = own.level}}, true)
  end
  if m.fmt == 'japanese' and lvl > 0 and not (own and own.level == lvl - 1) then
    return reject('dropped_out', nil, true)
  end
  local bid = record(company, price, price * 10000, false, lvl)
  if m.fmt == 'dutch' then
    ends = now
    redis.call('HSET', M, 'status', 'closed')
    local s = event('closed', {status = 'closed', ends = ends})
    audit('closed', {status = 'closed', ends = ends, seq = s, type = 'closed'})
  end
  return finish({r = 'ok', bid = bid, rank = rank(company), ends = ends, ext = ext,
                 extended = false}, true)
end

-- place_bid ----------------------------------------------------------------------
local price = tonumber(price_text)
local s = situation(company)
if not price or price ~= math.floor(price) or price < 1 then
  return reject('invalid_price', highest_acceptable(company, s), true)
end
local why = problem(company, s, price)
if why then return reject(why, highest_acceptable(company, s), true) end
local blind = sealed or prebid
local _, leader_before = best()
local bid = record(company, price, price * s.mul + s.add * 10000, false)
if not blind then run_proxies() end
local my_rank = nil
if not blind then my_rank = rank(company) end
local _, leader_after = best()
local out = {r = 'ok', bid = bid, rank = my_rank, ends = ends, ext = ext,
             extended = #events > #placed}
if not blind and leader_before and leader_before ~= leader_after then
  out.outbid = leader_before
end
return finish(out, true)
