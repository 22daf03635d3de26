-- load.lua: put an auction's whole live state into Redis at once (first load, or a
-- rebuild from SQL after Redis lost it; the caller bumps the epoch for a rebuild).
--
-- KEYS: the ten keys of one auction, as for bid.lua (m lad st tf px idem rl ev au fo).
-- ARGV:
--   1 state   msgpack {meta={field=value...}, standing={company=packed...},
--             ladder={{member, score}...}, transforms={company="mul:add"...},
--             proxies={company=floor...}, idem={field=packed...}}
--   2 mode    "missing": load only if the auction is not in Redis yet;
--             "replace": drop whatever is there first (a rebuild)
-- Returns 1 if it loaded, 0 if it left an existing auction alone.

if ARGV[2] == 'missing' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local state = cmsgpack.unpack(ARGV[1])
for i = 1, 10 do redis.call('DEL', KEYS[i]) end
local function S(v)
  if type(v) == 'number' then return string.format('%d', v) end
  return v
end
local function hset(key, map)
  local args = {}
  for k, v in pairs(map) do
    args[#args + 1] = k
    args[#args + 1] = S(v)
    if #args >= 1000 then
      redis.call('HSET', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
hset(KEYS[1], state.meta)
hset(KEYS[3], state.standing or {})
hset(KEYS[4], state.transforms or {})
hset(KEYS[5], state.proxies or {})
hset(KEYS[6], state.idem or {})
for _, pair in ipairs(state.ladder or {}) do
  redis.call('ZADD', KEYS[2], S(pair[2]), pair[1])
end
return 1
