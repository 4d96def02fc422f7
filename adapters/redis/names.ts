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
const SAFE = /^[^{}\u0000-\u001f]{1,200}$/

/** The names of `slot` under `prefix`, or `undefined` when either would break the hash tag. */
export const slotNames = (prefix: string, slot: string): SlotNames | undefined => {
  if (!SAFE.test(prefix) || !SAFE.test(slot)) return undefined
  const tag = `{${prefix}:${slot}}`
  return { ring: `${tag}:ring`, lease: `${tag}:lease`, channel: `${tag}:changed` }
}
