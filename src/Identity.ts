/**
 * Identity scope and identity type: the two enumerations every token, raw UID
 * and key ring carries. The scope is `"UID2"` or `"EUID"` (a client's key
 * ring says which one it serves); the type is `"Email"` or `"Phone"`, the
 * kind of DII the identity was made from. In V3/V4 tokens and v3/v4 raw UIDs
 * both are bits of the first byte.
 *
 * @example
 * ```ts
 * import { Identity, Token } from "effect-uid2"
 *
 * const scope: Identity.IdentityScope = "EUID"
 * const type: Identity.IdentityType = "Phone"
 *
 * Identity.scopeBit(scope) // 1
 * Identity.typeBits(type) // 1
 * Token.prefixByte(scope, type) // 0x17, the first byte of an EUID phone V3/V4 token
 * Identity.scopeFromBit(0) // "UID2"
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */

/**
 * UID2 (the default) or EUID (the European deployment).
 *
 * @since 0.1.0
 * @category models
 */
export type IdentityScope = "UID2" | "EUID"

/**
 * What the identity was derived from.
 *
 * @since 0.1.0
 * @category models
 */
export type IdentityType = "Email" | "Phone"

/**
 * Scope from its wire bit: 0 = UID2, 1 = EUID.
 *
 * @since 0.1.0
 * @category conversions
 */
export const scopeFromBit = (bit: number): IdentityScope => (bit & 1) === 1 ? "EUID" : "UID2"

/**
 * The wire bit of a scope.
 *
 * @since 0.1.0
 * @category conversions
 */
export const scopeBit = (scope: IdentityScope): number => scope === "EUID" ? 1 : 0

/**
 * Type from its wire value: 0 = email; every other value is reported as phone, as all reference SDKs do.
 *
 * @since 0.1.0
 * @category conversions
 */
export const typeFromBits = (bits: number): IdentityType => bits === 0 ? "Email" : "Phone"

/**
 * The wire value of a type.
 *
 * @since 0.1.0
 * @category conversions
 */
export const typeBits = (type: IdentityType): number => type === "Phone" ? 1 : 0
