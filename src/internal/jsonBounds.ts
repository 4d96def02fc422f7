/**
 * Bounds for JSON from outside: nesting depth and size, checked in one linear
 * pass with an explicit stack (never by recursion), before anything builds,
 * decodes or formats the value. Deep values are what overflow the stack of
 * recursive code (JSON.stringify, Schema's error formatter), so nothing
 * deeper than the bound reaches such code.
 */

/** Deepest nesting of arrays and objects any SDK parser accepts. */
export const MAX_DEPTH = 64

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/**
 * Whether JSON text nests arrays and objects at most `maxDepth` deep. Brackets
 * inside strings do not count. Text that is not JSON may pass; `JSON.parse`
 * rejects it afterwards.
 */
export const textDepthWithin = (text: string, maxDepth: number): boolean => {
  const length = text.length
  let depth = 0
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // Jump to the closing quote: the next one not escaped by an odd run of backslashes.
      let end = text.indexOf("\"", i + 1)
      while (end !== -1) {
        let slashes = 0
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++
        if (slashes % 2 === 0) break
        end = text.indexOf("\"", end + 1)
      }
      if (end === -1) return true
      i = end
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return false
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
    }
  }
  return true
}

/** What makes a value unacceptable. */
export type Violation = "TooDeep" | "TooLarge"

/**
 * Checks an already-parsed value: nesting at most `maxDepth` deep and a JSON
 * size of at most `maxSize` characters. The size counted is a lower bound of
 * the length `JSON.stringify` would give for plain JSON values, so such a
 * value whose JSON fits is never rejected; shared sub-objects count once per path, so a value that shares
 * its parts to look small is measured as the text it would print as. A cycle
 * is too deep. Returns `undefined` when the value is within both bounds.
 * Property reads that throw (proxies, getters) propagate: callers guard.
 */
export const checkValue = (value: unknown, maxDepth: number, maxSize: number): Violation | undefined => {
  const values: Array<unknown> = [value]
  const depths: Array<number> = [0]
  let size = 0
  while (values.length > 0) {
    const current = values.pop()
    const depth = depths.pop()!
    if (typeof current === "string") {
      size += current.length + 2
    } else if (typeof current === "object" && current !== null) {
      if (depth + 1 > maxDepth) return "TooDeep"
      if (Array.isArray(current)) {
        const n = current.length
        size += n + 1
        if (size > maxSize) return "TooLarge"
        for (let i = 0; i < n; i++) {
          values.push(current[i])
          depths.push(depth + 1)
        }
      } else {
        size += 2
        let members = 0
        for (const key of Object.keys(current)) {
          const member = (current as Record<string, unknown>)[key]
          // Members JSON.stringify leaves out count nothing.
          if (member === undefined || typeof member === "function" || typeof member === "symbol") continue
          size += key.length + 3 + (members++ > 0 ? 1 : 0)
          if (size > maxSize) return "TooLarge"
          values.push(member)
          depths.push(depth + 1)
        }
      }
    } else {
      size += 1
    }
    if (size > maxSize) return "TooLarge"
  }
  return undefined
}

/** Why JSON text was not parsed. */
export type TextViolation = "TooLong" | "TooDeep" | "NotJson"

/**
 * Parses JSON text of at most `maxLength` characters nested at most
 * `maxDepth` deep; the length is checked before the text is scanned and the
 * depth before it is parsed.
 */
export const parseText = (
  text: string,
  maxLength: number,
  maxDepth: number
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly violation: TextViolation } => {
  if (text.length > maxLength) return { ok: false, violation: "TooLong" }
  if (!textDepthWithin(text, maxDepth)) return { ok: false, violation: "TooDeep" }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false, violation: "NotJson" }
  }
}
