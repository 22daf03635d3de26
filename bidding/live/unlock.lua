-- unlock.lua: release a lock only if this caller still holds it (compare and delete).
--
-- KEYS[1]  the lock key (a string holding the holder's random token).
-- ARGV[1]  the caller's token.
-- Returns 1 if the lock was released, 0 if it had expired or belongs to someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
