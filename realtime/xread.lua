-- One stream's entries after an id, without blocking: the hub's read on a Redis
-- Cluster (realtime/hub.py), where one XREAD may not span the slots of several
-- auctions. Sent with EVAL, whose keys redis-py routes without asking the server.
--
-- KEYS[1]  the auction's event stream ({a:<id>}:ev)
-- ARGV[1]  the last id read (entries after it are returned)
-- ARGV[2]  at most this many entries
--
-- Returns XREAD's answer: {{stream, {{id, {field, value, ...}}, ...}}}, or nil.
return redis.call('XREAD', 'COUNT', ARGV[2], 'STREAMS', KEYS[1], ARGV[1])
