// Values an untyped caller (plain JavaScript, JSON from a bid request, a Promise facade) can hand the SDK
// where it expects a string, and an arbitrary of everything else.
import { FastCheck } from "effect"

/** Megabytes of one flat (not rope) string: the guards must decide on `length` without reading it. */
export const flatString = (length: number, char = "A"): string => Buffer.alloc(length, char).toString("latin1")

export const MB50 = 50_000_000

/**
 * A counter of every time caller code ran: each trap of the Proxies and each method or getter of the
 * objects below counts once and throws. A guard that only uses `typeof` never moves it.
 */
export const tripwire = () => {
  let count = 0
  const trip = (): never => {
    count++
    throw new Error("caller code ran")
  }
  const handler: ProxyHandler<object> = {
    get: trip,
    set: trip,
    has: trip,
    ownKeys: trip,
    getOwnPropertyDescriptor: trip,
    getPrototypeOf: trip,
    defineProperty: trip,
    deleteProperty: trip,
    apply: trip,
    construct: trip
  }
  const revocable = Proxy.revocable({}, {})
  revocable.revoke()
  const values: ReadonlyArray<readonly [string, unknown]> = [
    ["Proxy with throwing traps", new Proxy({}, handler)],
    ["function Proxy with throwing traps", new Proxy(function() {}, handler)],
    ["revoked Proxy", revocable.proxy],
    ["throwing toString", { toString: trip }],
    ["throwing valueOf", { valueOf: trip }],
    ["throwing Symbol.toPrimitive", { [Symbol.toPrimitive]: trip }],
    ["throwing toJSON", { toJSON: trip }],
    ["throwing length getter", Object.defineProperty({}, "length", { get: trip })],
    ["throwing charCodeAt getter", Object.defineProperty({ length: 220 }, "charCodeAt", { get: trip })],
    ["string duck type", { length: 220, charCodeAt: trip, slice: trip, replace: trip, toString: trip }],
    ["throwing Symbol.iterator", { [Symbol.iterator]: trip }]
  ]
  return { values, calls: () => count }
}

/**
 * Non-string values, several of them close to `text` (a valid input of the function under test): boxed,
 * in a Buffer, in an array, returned by a function. None may be taken for `text`.
 */
export const nonStrings = (text: string): ReadonlyArray<readonly [string, unknown]> => [
  ["null", null],
  ["undefined", undefined],
  ["0", 0],
  ["-0", -0],
  ["42", 42],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["true", true],
  ["false", false],
  ["BigInt", 10n],
  ["huge BigInt", 2n ** 4096n],
  ["Symbol", Symbol("token")],
  ["well-known Symbol", Symbol.iterator],
  ["{}", {}],
  ["[]", []],
  ["[text]", [text]],
  ["text's characters", text.split("")],
  ["null-prototype object", Object.create(null)],
  ["String object", new String(text)],
  ["Buffer of text", Buffer.from(text)],
  ["Uint8Array", new Uint8Array(220)],
  ["ArrayBuffer", new ArrayBuffer(8)],
  ["function returning text", () => text],
  ["object whose toString is text", { toString: () => text }],
  ["Date", new Date(0)],
  ["RegExp", /A/],
  ["Map", new Map([[0, text]])],
  ["Set", new Set([text])],
  ["Promise", Promise.resolve(text)],
  ["Error", new Error(text)]
]

/** Any JavaScript value fast-check can build (strings included), with the exotic kinds switched on. */
export const anyValue: FastCheck.Arbitrary<unknown> = FastCheck.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true
})
