-- state.lua: an auction's meta hash and standing bids, read at one instant (the
-- desk's view and the hub's feeds check that SQL holds everything they show: dseq).
--
-- KEYS: m, lad, st of one auction.
-- Returns {meta (HGETALL), ladder members best first, their standing bids (packed)}.

local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local standing = {}
for i, member in ipairs(members) do
  standing[i] = redis.call('HGET', KEYS[3], string.sub(member, 14)) or false
end
return {redis.call('HGETALL', KEYS[1]), members, standing}
