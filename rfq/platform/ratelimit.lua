-- GCRA rate limiter (generic cell rate algorithm): one key, one integer per subject.
--
-- KEYS[1]  the subject's key (string): its theoretical arrival time in ms.
-- ARGV[1]  now_ms          the server's time, integer milliseconds.
-- ARGV[2]  interval_ms     period / limit: the spacing of requests at the steady rate.
-- ARGV[3]  burst_ms        period: how far ahead of now the arrival time may run.
-- ARGV[4]  cost            how many cells this request takes (usually 1).
--
-- Returns {allowed, retry_after_ms}: allowed is 1 or 0; retry_after_ms is 0 when
-- allowed, else how long until one more request would be allowed.
-- The key expires when it no longer limits anything.
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - burst
if now < allow_at then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(new_tat - now, 1))
return {1, 0}
