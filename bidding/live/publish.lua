-- publish.lua: release an auction's events that SQL now holds to its fan-out stream.
-- The journal calls it after each commit with the auction's contiguous watermarks in
-- SQL (bidding/live/store.py); the hub reads only the fan-out stream, so nobody is shown
-- an event before it is in the record (docs/engine.md, "One record").
--
-- KEYS: m, ev, fo of one auction.
-- ARGV:
--   1 epoch    the auction's epoch in SQL; another epoch in Redis: nothing is done (a
--              rebuild loaded the new epoch with its own watermarks)
--   2 seq      every event up to this one is in SQL
--   3 aseq     every audit entry up to this one is in SQL
--   4 maxlen   approximate cap of the fan-out stream
-- Returns the number of events released.

local M, EV, FO = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', M, 'epoch') ~= ARGV[1] then return 0 end
local seq, aseq = tonumber(ARGV[2]), tonumber(ARGV[3])
local dseq = tonumber(redis.call('HGET', M, 'dseq') or '0')
local released = 0
if seq > dseq then
  local rows = redis.call('XRANGE', EV, '(' .. string.format('%d', dseq) .. '-0',
                          string.format('%d', seq) .. '-0')
  for _, row in ipairs(rows) do
    redis.call('XADD', FO, 'MAXLEN', '~', ARGV[4], row[1], unpack(row[2]))
    released = released + 1
  end
  redis.call('HSET', M, 'dseq', string.format('%d', seq))
end
if aseq > tonumber(redis.call('HGET', M, 'daseq') or '0') then
  redis.call('HSET', M, 'daseq', string.format('%d', aseq))
end
return released
