/**
 * Saves a ring unless the stored one is newer, bumps the version beside it and
 * publishes the version. Anything at the key that is not a ring hash (garbage,
 * a wrong type) is replaced, so a good save always repairs the entry.
 * KEYS[1] ring hash; ARGV[1] fetchedAt, ARGV[2] sealed ring, ARGV[3] channel.
 * Answers the new version, or 0 when the stored ring is newer.
 */
export const SAVE_IF_NEWER = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local current = tonumber(redis.call('HGET', KEYS[1], 'f'))
if current ~= nil and current > tonumber(ARGV[1]) then return 0 end
local version = (tonumber(redis.call('HGET', KEYS[1], 'v')) or 0) + 1
redis.call('HSET', KEYS[1], 'v', version, 'f', ARGV[1], 'd', ARGV[2])
redis.call('PUBLISH', ARGV[3], version)
return version
`

/** Deletes the lease only while it still holds this process's token. KEYS[1] lease; ARGV[1] token. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/** Restarts the lease's TTL only while it holds this process's token. KEYS[1] lease; ARGV[1] token, ARGV[2] ms. */
export const EXTEND_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`
