import { join } from "node:path"

/** The placeholder of a path template. */
export const SLOT_PLACEHOLDER = "{slot}"

/**
 * Slot names that are safe as a file name on every platform: letters, digits,
 * `.`, `_` and `-`, not starting with a dot, at most 100 characters. Anything
 * else (a `/`, `..`, a NUL) could leave the directory.
 */
const SAFE_SLOT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/

/** Where the ring of `slot` lives, or `undefined` when the slot name is not safe as a file name. */
export const slotPath = (location: Location, slot: string): string | undefined => {
  if (!SAFE_SLOT.test(slot)) return undefined
  return location._tag === "Directory"
    ? join(location.directory, `${slot}.json`)
    : location.template.split(SLOT_PLACEHOLDER).join(slot)
}

/** A directory of `<slot>.json` files, or a path template with `{slot}`. */
export type Location =
  | { readonly _tag: "Directory"; readonly directory: string }
  | { readonly _tag: "Template"; readonly template: string }
