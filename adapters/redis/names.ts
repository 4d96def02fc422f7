/**
 * The Redis names of one slot. All share one Cluster hash tag, `{prefix:slot}`,
 * so the scripts that touch several of them run on one shard.
 */
export interface SlotNames {
  /** Hash: `v` version, `f` fetchedAt, `d` the sealed ring. */
  readonly ring: string
  /** String: the refresh lease's token, with a TTL. */
  readonly lease: string
  /** Pub/sub channel: the version of each saved ring. */
  readonly channel: string
}

// Braces would break the hash tag; control characters have no place in a key name.
const isSafe = (name: string): boolean => {
  if (name.length < 1 || name.length > 200) return false
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c < 0x20 || c === 0x7b || c === 0x7d) return false
  }
  return true
}

/** The names of `slot` under `prefix`, or `undefined` when either would break the hash tag. */
export const slotNames = (prefix: string, slot: string): SlotNames | undefined => {
  if (!isSafe(prefix) || !isSafe(slot)) return undefined
  const tag = `{${prefix}:${slot}}`
  return { ring: `${tag}:ring`, lease: `${tag}:lease`, channel: `${tag}:changed` }
}
