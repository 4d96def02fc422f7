/**
 * Identity map (v3): emails, phones and their hashes to raw UID2s, for
 * advertisers and data providers mapping customer lists.
 *
 * - **Inputs** of the four kinds mix freely in one stream. Emails are
 *   normalized and phones validated locally, then hashed (SHA-256, Base64);
 *   only hashes are sent. Hashes the caller already has are sent verbatim
 *   (the operator answers an invalid one as unmapped `InvalidIdentifier`).
 * - **Every input gets exactly one result**, carrying the input it answers:
 *   `Mapped` (current raw UID, previous one when the salt rotated recently,
 *   and the refresh-from time), `Unmapped` (opt-out, invalid identifier, or
 *   a reason this SDK does not know, kept verbatim), `Invalid` (rejected
 *   locally, never sent) or `Failed` (its request still failed after the
 *   transport's retries).
 * - **{@link IdentityMapClientShape.mapStream}** cuts the input into requests
 *   of at most 5,000 items and under 1 MB, keeps at most 20 of them in flight
 *   (fewer on request), and emits each request's results as soon as its turn
 *   comes. Memory stays bounded however long the input is. Retries of 429,
 *   5xx and timeouts (honouring `Retry-After`) are the transport's.
 * - **{@link IdentityMapClientShape.map}** does the same for a list and
 *   returns the results keyed by the caller's original strings.
 * - **Progress** ({@link Progress}) can be polled or subscribed to through a
 *   `Ref` or `SubscriptionRef` the caller passes in.
 * - **Re-mapping**: {@link dueForRemap} picks, from stored results, the
 *   identities whose refresh-from time has passed.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { IdentityMap } from "effect-uid2"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* IdentityMap.IdentityMapClient
 *   const response = yield* client.map([IdentityMap.email("user@example.com"), IdentityMap.phone("+12345678901")])
 *   const mapped = response.mapped.get("user@example.com") // currentRawUid, previousRawUid, refreshFrom
 *
 *   // A long list as a stream: one result per input, bounded memory.
 *   const emails = Stream.fromIterable(["a@example.com", "b@example.com"]).pipe(Stream.map(IdentityMap.email))
 *   const mappedCount = yield* client.mapStream(emails).pipe(
 *     Stream.runFold(0, (count, result) => result._tag === "Mapped" ? count + 1 : count)
 *   )
 *   return { mapped, mappedCount }
 * }).pipe(Effect.provide(IdentityMap.layerConfig())) // UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Chunk from "effect/Chunk"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Crypto from "./Crypto.js"
import * as Dii from "./Dii.js"
import type { InvalidClientSecret } from "./Envelope.js"
import * as HttpTransport from "./HttpTransport.js"
import { layerNodeReportingAttempts, layerReportingAttempts, observeAttempts } from "./internal/attempts.js"
import * as Base64 from "./internal/base64.js"
import { batches, clampInt, resultChunks, runBatches, updateProgress } from "./internal/batching.js"
import type { TransportError } from "./TransportError.js"

// ---------------------------------------------------------------------------
// Constants

/**
 * The identity map endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAP_PATH = "/v3/identity/map"

/**
 * The most items the operator accepts in one request (all kinds together).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BATCH_ITEMS = 5_000

/**
 * The most requests the operator's documentation allows in parallel.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CONCURRENCY = 20

/**
 * The largest request JSON sent, in bytes: under the operator's 1 MB limit
 * with room for the envelope.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_REQUEST_BYTES = 1_000_000

/**
 * The longest hash a caller may hand in (characters). A SHA-256 digest is 44
 * characters of Base64 or 64 of hex; anything much longer cannot be one and
 * is reported `Invalid` instead of being sent.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HASH_INPUT_LENGTH = 256

// ---------------------------------------------------------------------------
// Inputs

/**
 * One identity to map: an email or phone (normalized/validated and hashed
 * locally) or a hash the caller computed (Base64 SHA-256 of the normalized
 * email or phone, sent verbatim). Build them with {@link email},
 * {@link phone}, {@link emailHash} and {@link phoneHash}.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = Data.TaggedEnum<{
  readonly Email: { readonly value: string }
  readonly Phone: { readonly value: string }
  readonly EmailHash: { readonly value: string }
  readonly PhoneHash: { readonly value: string }
}>

/**
 * Constructors (`Input.Email({ value })`…), guards (`$is`) and `$match` for
 * {@link Input}.
 *
 * @since 0.1.0
 * @category models
 */
export const Input = Data.taggedEnum<Input>()

// Each property read of a `Data.taggedEnum` makes a new constructor: read them once, not once per item.
const makeEmail = Input.Email
const makePhone = Input.Phone
const makeEmailHash = Input.EmailHash
const makePhoneHash = Input.PhoneHash

/**
 * An email address as the user gave it; it is normalized and hashed before
 * it is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const email = (value: string): Input => makeEmail({ value })

/**
 * A phone number in E.164 form (`+` and 10 to 15 digits); it is validated
 * (never normalized) and hashed before it is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const phone = (value: string): Input => makePhone({ value })

/**
 * The Base64 SHA-256 of a normalized email, sent verbatim.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emailHash = (value: string): Input => makeEmailHash({ value })

/**
 * The Base64 SHA-256 of a normalized phone number, sent verbatim.
 *
 * @since 0.1.0
 * @category constructors
 */
export const phoneHash = (value: string): Input => makePhoneHash({ value })

// ---------------------------------------------------------------------------
// Errors

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const MAX_TEXT = 200
const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text)

/**
 * The input is not one of the four {@link Input} kinds (a value from untyped
 * code). It is reported `Invalid` and never sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedInput extends Data.TaggedError("UnsupportedInput")<{}> {
  override get message() {
    return "not an identity map input: expected an email, phone, email hash or phone hash"
  }
}

/**
 * Why an input was rejected locally.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidInput = Dii.InvalidEmail | Dii.InvalidPhone | Dii.InvalidHash | UnsupportedInput

/**
 * The operator's answer could not be used:
 *
 * - `UnexpectedStatus`: a `status` other than `success` ("Got unexpected
 *   identity map status: …").
 * - `Malformed`: not JSON, not an object, an answer array whose length is
 *   not the number of identifiers sent, or an element that is neither a
 *   mapping nor an unmapped reason. `detail` says which, without echoing
 *   identifiers.
 *
 * @since 0.1.0
 * @category errors
 */
export class IdentityMapResponseError extends Data.TaggedError("IdentityMapResponseError")<{
  readonly reason: "UnexpectedStatus" | "Malformed"
  readonly status?: string | undefined
  readonly detail?: string | undefined
}> {
  override get message() {
    return this.reason === "UnexpectedStatus"
      ? `Got unexpected identity map status: ${clip(this.status ?? "")}`
      : `invalid identity map response: ${this.detail ?? "malformed"}`
  }
}

/**
 * Why the request an input travelled in failed: the transport's error after
 * its retries, or an unusable answer.
 *
 * @since 0.1.0
 * @category errors
 */
export type BatchError = TransportError | IdentityMapResponseError

// ---------------------------------------------------------------------------
// Results

/**
 * Why the operator did not map an identity: `OptOut` (`"optout"`),
 * `InvalidIdentifier` (`"invalid identifier"`), or `Unknown` for any other
 * reason (kept verbatim in `rawReason`).
 *
 * @since 0.1.0
 * @category models
 */
export type UnmappedReason = "OptOut" | "InvalidIdentifier" | "Unknown"

/**
 * The answer for one input:
 *
 * - `Mapped`: `currentRawUid`, `previousRawUid` (present for 90 days after
 *   the identity's salt rotated) and `refreshFrom`, the time before which the
 *   raw UID will not change (after it, re-map: {@link dueForRemap}).
 * - `Unmapped`: the operator's `reason`, and its text as sent.
 * - `Invalid`: rejected locally (bad email, phone or hash); never sent.
 * - `Failed`: its request failed after the transport's retries; `error` says
 *   why. Every other input of that request failed the same way.
 *
 * @since 0.1.0
 * @category models
 */
export type MapResult = Data.TaggedEnum<{
  readonly Mapped: {
    readonly input: Input
    readonly currentRawUid: string
    readonly previousRawUid: Option.Option<string>
    readonly refreshFrom: DateTime.Utc
  }
  readonly Unmapped: { readonly input: Input; readonly reason: UnmappedReason; readonly rawReason: string }
  readonly Invalid: { readonly input: Input; readonly error: InvalidInput }
  readonly Failed: { readonly input: Input; readonly error: BatchError }
}>

/**
 * Constructors, guards (`$is`) and `$match` for {@link MapResult}.
 *
 * @since 0.1.0
 * @category models
 */
export const MapResult = Data.taggedEnum<MapResult>()

const makeMapped = MapResult.Mapped
const makeUnmapped = MapResult.Unmapped
const makeInvalid = MapResult.Invalid
const makeFailed = MapResult.Failed

/**
 * A mapped input.
 *
 * @since 0.1.0
 * @category models
 */
export type Mapped = Data.TaggedEnum.Value<MapResult, "Mapped">

/**
 * An input the operator did not map.
 *
 * @since 0.1.0
 * @category models
 */
export type Unmapped = Data.TaggedEnum.Value<MapResult, "Unmapped">

/**
 * An input rejected locally.
 *
 * @since 0.1.0
 * @category models
 */
export type Invalid = Data.TaggedEnum.Value<MapResult, "Invalid">

/**
 * An input whose request failed.
 *
 * @since 0.1.0
 * @category models
 */
export type Failed = Data.TaggedEnum.Value<MapResult, "Failed">

/**
 * The results of {@link IdentityMapClientShape.map}: all of them in input
 * order, and each kind keyed by the caller's original string (the email,
 * phone or hash as given). An input given twice verbatim is one key; inputs
 * that normalize alike are separate keys with the same answer. Inputs of
 * different kinds that are the same string share a key (the later wins);
 * use `results` when that matters. An input whose value is not a string
 * (from untyped code) appears only in `results`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MapResponse {
  readonly results: ReadonlyArray<MapResult>
  readonly mapped: ReadonlyMap<string, Mapped>
  readonly unmapped: ReadonlyMap<string, Unmapped>
  readonly invalid: ReadonlyMap<string, Invalid>
  readonly failed: ReadonlyMap<string, Failed>
}

/**
 * Groups results by kind, keyed by their input's original string.
 *
 * @since 0.1.0
 * @category constructors
 */
export const responseOf = (results: ReadonlyArray<MapResult>): MapResponse => {
  const mapped = new Map<string, Mapped>()
  const unmapped = new Map<string, Unmapped>()
  const invalid = new Map<string, Invalid>()
  const failed = new Map<string, Failed>()
  for (const r of results) {
    const key: unknown = isRecord(r.input) ? r.input.value : undefined
    if (typeof key !== "string") continue // garbage from untyped callers: only in `results`
    switch (r._tag) {
      case "Mapped":
        mapped.set(key, r)
        break
      case "Unmapped":
        unmapped.set(key, r)
        break
      case "Invalid":
        invalid.set(key, r)
        break
      case "Failed":
        failed.set(key, r)
        break
    }
  }
  return { results, mapped, unmapped, invalid, failed }
}

// ---------------------------------------------------------------------------
// Progress

/**
 * Counters of a running {@link IdentityMapClientShape.mapStream}, updated
 * once per request (never per item):
 *
 * - `read`: inputs taken from the stream and put into a request;
 * - `mapped`, `unmapped`, `invalid`, `failed`: results emitted of each kind;
 * - `requests`: requests started; `inFlight`: requests running now;
 * - `retries`: attempts beyond each request's first. They are counted by the
 *   HTTP client this module's layers build the transport on; a transport
 *   built elsewhere and passed to {@link make} does not report them.
 *
 * @since 0.1.0
 * @category progress
 */
export interface Progress {
  readonly read: number
  readonly mapped: number
  readonly unmapped: number
  readonly invalid: number
  readonly failed: number
  readonly requests: number
  readonly inFlight: number
  readonly retries: number
}

/**
 * All counters at zero.
 *
 * @since 0.1.0
 * @category progress
 */
export const initialProgress: Progress = {
  read: 0,
  mapped: 0,
  unmapped: 0,
  invalid: 0,
  failed: 0,
  requests: 0,
  inFlight: 0,
  retries: 0
}

/**
 * A `SubscriptionRef` for {@link MapOptions.progress}: poll it with
 * `SubscriptionRef.get`, or follow `ref.changes` (a `Stream` of snapshots)
 * to draw a progress bar.
 *
 * @since 0.1.0
 * @category progress
 */
export const makeProgress: Effect.Effect<SubscriptionRef.SubscriptionRef<Progress>> = SubscriptionRef.make(
  initialProgress
)

/**
 * How many results have been emitted so far (every kind).
 *
 * @since 0.1.0
 * @category progress
 */
export const settled = (self: Progress): number => self.mapped + self.unmapped + self.invalid + self.failed

// ---------------------------------------------------------------------------
// Re-mapping

/**
 * What a stored mapping must keep for {@link dueForRemap}: the input and its
 * refresh-from time. A `Mapped` result is one.
 *
 * @since 0.1.0
 * @category re-mapping
 */
export interface StoredMapping {
  readonly input: Input
  readonly refreshFrom: DateTime.DateTime
}

/**
 * `true` once `at` has reached the mapping's refresh-from time: re-mapping
 * may then return a new raw UID. Use it on a stream too:
 * `Stream.filter(IdentityMap.isDueForRemap(now))`.
 *
 * @since 0.1.0
 * @category re-mapping
 */
export const isDueForRemap: {
  (at: DateTime.DateTime): (self: StoredMapping) => boolean
  (self: StoredMapping, at: DateTime.DateTime): boolean
} = dual(2, (self: StoredMapping, at: DateTime.DateTime): boolean => DateTime.lessThanOrEqualTo(self.refreshFrom, at))

/**
 * The inputs of the stored mappings that are due for a new mapping at `at`,
 * in the order given: feed them back to `map` or `mapStream`.
 *
 * @since 0.1.0
 * @category re-mapping
 */
export const dueForRemap = (stored: Iterable<StoredMapping>, at: DateTime.DateTime): Array<Input> => {
  const due: Array<Input> = []
  for (const s of stored) if (isDueForRemap(s, at)) due.push(s.input)
  return due
}

/**
 * {@link dueForRemap} at the current time of Effect's `Clock`.
 *
 * @since 0.1.0
 * @category re-mapping
 */
export const dueForRemapNow = (stored: Iterable<StoredMapping>): Effect.Effect<Array<Input>> =>
  Effect.map(DateTime.now, (at) => dueForRemap(stored, at))

// ---------------------------------------------------------------------------
// Wire (pure)

const EMAIL_HASH = 0
const PHONE_HASH = 1
const LOCAL = -1
const FIELDS = ["email_hash", "phone_hash"] as const

/** One input as it is sent: its wire array and value, or why it stays local. */
interface Prepared {
  readonly field: typeof EMAIL_HASH | typeof PHONE_HASH | typeof LOCAL
  readonly value: string
  readonly invalid: InvalidInput | undefined
}

/** A hash we compute: 44 characters of Base64, quoted, and a comma. */
const HASH_COST = 47
/** `{"email_hash":[],"phone_hash":[]}` and a margin. */
const JSON_OVERHEAD = 64

const utf8 = new TextEncoder()
const unsupported = new UnsupportedInput()
const hashNotAString = new Dii.InvalidHash({ reason: "NotAString" })
const hashTooLong = new Dii.InvalidHash({ reason: "Length" })

const local = (invalid: InvalidInput): Prepared => ({ field: LOCAL, value: "", invalid })

/** Whether a hash the caller gives can be sent: a string of at most {@link MAX_HASH_INPUT_LENGTH} characters. */
const verbatimProblem = (value: unknown): InvalidInput | undefined =>
  typeof value !== "string" ? hashNotAString : value.length > MAX_HASH_INPUT_LENGTH ? hashTooLong : undefined

/**
 * The bytes `input` adds to the request JSON, known before it is hashed: a
 * computed hash has a fixed size, a hash the caller gives is sent quoted and
 * escaped, and an input that cannot be sent adds nothing. An email or phone
 * that proves invalid is still counted, so a batch can only come out smaller.
 * Inputs are hashed only once their request starts: batches wait in the
 * pipeline (for a free slot, or being filled) long enough for their hashes to
 * outlive young-generation collections and pile up as old garbage.
 */
const costOf = (input: Input): number => {
  if (!isRecord(input)) return 0
  switch (input._tag) {
    case "Email":
    case "Phone":
      return HASH_COST
    case "EmailHash":
    case "PhoneHash":
      return verbatimProblem(input.value) === undefined
        ? Buffer.byteLength(JSON.stringify(input.value)) + 1 // quotes, escapes and a comma
        : 0
    default:
      return 0
  }
}

/** Longest text hashed through the reusable buffer; longer (rare) values get their own. */
const SCRATCH_CHARS = 1_024

/**
 * Normalizes and hashes one input with `crypto`'s SHA-256; never throws. The
 * UTF-8 buffer is reused: it belongs to one client, and hashing is synchronous.
 */
const preparer = (crypto: Crypto.CryptoShape) => {
  const scratch = new Uint8Array(SCRATCH_CHARS * 3)
  const hash = (normalized: string) => {
    const bytes = normalized.length <= SCRATCH_CHARS
      ? scratch.subarray(0, utf8.encodeInto(normalized, scratch).written)
      : utf8.encode(normalized)
    return Base64.encode(crypto.sha256(bytes))
  }
  const verbatim = (field: typeof EMAIL_HASH | typeof PHONE_HASH, value: unknown): Prepared => {
    const problem = verbatimProblem(value)
    return problem === undefined ? { field, value: value as string, invalid: undefined } : local(problem)
  }
  return (input: Input): Prepared => {
    if (!isRecord(input)) return local(unsupported)
    switch (input._tag) {
      case "Email": {
        const normalized = Dii.normalizeEmail(input.value)
        return Either.isLeft(normalized)
          ? local(normalized.left)
          : { field: EMAIL_HASH, value: hash(normalized.right), invalid: undefined }
      }
      case "Phone": {
        const valid = Dii.validatePhone(input.value)
        return Either.isLeft(valid)
          ? local(valid.left)
          : { field: PHONE_HASH, value: hash(valid.right), invalid: undefined }
      }
      case "EmailHash":
        return verbatim(EMAIL_HASH, input.value)
      case "PhoneHash":
        return verbatim(PHONE_HASH, input.value)
      default:
        return local(unsupported)
    }
  }
}

/**
 * What the results of a batch need: each item's input, wire array and slot
 * in it. The hashes themselves are not kept: they travel in the payload.
 */
interface Layout {
  readonly inputs: ReadonlyArray<Input>
  /** Each item's wire array (meaningless for local items). */
  readonly fields: Uint8Array
  /** Each item's slot in its wire array; −1: rejected locally, never sent. */
  readonly slots: Int32Array
  /** Why the local items were rejected, by position. */
  readonly invalid: ReadonlyMap<number, InvalidInput>
  /** How many distinct values are sent, per wire array. */
  readonly sent: readonly [number, number]
  /** How many values are sent (0: every item is local, no request is needed). */
  readonly wire: number
}

/**
 * Prepares a batch's inputs and lays out its request: the layout and the
 * request JSON. Inputs that hash alike share one slot; both arrays are always
 * present. The hashes live only until the JSON is encoded.
 */
const takeRequest = (
  inputs: ReadonlyArray<Input>,
  prepare: (input: Input) => Prepared
): { readonly layout: Layout; readonly payload: Uint8Array } => {
  const sent: [Array<string>, Array<string>] = [[], []]
  const index = [new Map<string, number>(), new Map<string, number>()] as const
  const fields = new Uint8Array(inputs.length)
  const slots = new Int32Array(inputs.length)
  const invalid = new Map<number, InvalidInput>()
  for (let i = 0; i < inputs.length; i++) {
    const item = prepare(inputs[i]!)
    if (item.field === LOCAL) {
      slots[i] = -1
      invalid.set(i, item.invalid ?? unsupported)
      continue
    }
    const values = sent[item.field]
    let slot = index[item.field].get(item.value)
    if (slot === undefined) {
      slot = values.length
      values.push(item.value)
      index[item.field].set(item.value, slot)
    }
    fields[i] = item.field
    slots[i] = slot
  }
  const json = `{"email_hash":${JSON.stringify(sent[0])},"phone_hash":${JSON.stringify(sent[1])}}`
  const layout: Layout = {
    inputs,
    fields,
    slots,
    invalid,
    sent: [sent[0].length, sent[1].length],
    wire: sent[0].length + sent[1].length
  }
  return { layout, payload: utf8.encode(json) }
}

/**
 * What a batch's request brought back: the response JSON or why it failed
 * (`undefined`: every item was local, nothing was sent). Finished batches wait
 * for their turn in this form, and become results only as they are emitted.
 */
interface Answer {
  readonly layout: Layout
  /** Cleared once read: the stream keeps its last answer until the next one comes. */
  outcome: Either.Either<string, BatchError> | undefined
}

const reasonOf = (e: string): UnmappedReason =>
  e === "optout" ? "OptOut" : e === "invalid identifier" ? "InvalidIdentifier" : "Unknown"

const malformed = (detail: string) => new IdentityMapResponseError({ reason: "Malformed", detail })

/** Refresh-from times by their seconds: items of one salt bucket share one value, so a batch makes few. */
type Times = Map<number, Option.Option<DateTime.Utc>>

const timeOf = (times: Times, seconds: number): Option.Option<DateTime.Utc> => {
  let time = times.get(seconds)
  if (time === undefined) {
    time = DateTime.make(seconds * 1000)
    times.set(seconds, time)
  }
  return time
}

/** One element of an answer array as the result for `input`. */
const answerFor = (input: Input, element: unknown, field: string, index: number, times: Times): MapResult => {
  if (isRecord(element)) {
    const { e, p, r, u } = element
    if (typeof u === "string") {
      const refreshFrom = typeof r === "number" ? timeOf(times, r) : Option.none()
      if (Option.isSome(refreshFrom) && (p === null || p === undefined || typeof p === "string")) {
        return makeMapped({
          input,
          currentRawUid: u,
          previousRawUid: typeof p === "string" ? Option.some(p) : Option.none(),
          refreshFrom: refreshFrom.value
        })
      }
      return makeFailed({ input, error: malformed(`answer ${index} of ${field} has an invalid p or r`) })
    }
    if (typeof e === "string") return makeUnmapped({ input, reason: reasonOf(e), rawReason: e })
  }
  return makeFailed({
    input,
    error: malformed(`answer ${index} of ${field} is neither a mapping nor an unmapped reason`)
  })
}

/** The `Invalid` result of item `i`, or `undefined` when it was sent. */
const invalidAt = (layout: Layout, i: number): MapResult | undefined => {
  if (layout.slots[i] !== -1) return undefined
  return makeInvalid({ input: layout.inputs[i]!, error: layout.invalid.get(i) ?? unsupported })
}

/** Item `i` of the batch, which failed with `error`; local ones stay `Invalid`. */
const failedAt = (layout: Layout, error: BatchError) => (i: number): MapResult =>
  invalidAt(layout, i) ?? makeFailed({ input: layout.inputs[i]!, error })

/**
 * The result of each item of a batch, from the decrypted response JSON,
 * parsed once. A missing answer array counts as empty; an array of the wrong
 * length fails the items of its kind; an element of the wrong shape fails the
 * items that share it.
 */
const resultsOf = (layout: Layout, json: string): (i: number) => MapResult => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return failedAt(layout, malformed("not valid JSON"))
  }
  if (!isRecord(parsed)) return failedAt(layout, malformed("not a JSON object"))
  const status = parsed["status"]
  if (status !== "success") {
    return failedAt(
      layout,
      typeof status === "string"
        ? new IdentityMapResponseError({ reason: "UnexpectedStatus", status })
        : malformed("no status")
    )
  }
  const body = parsed["body"] ?? {}
  if (!isRecord(body)) return failedAt(layout, malformed("body is not an object"))
  const answers = FIELDS.map((field, f): ReadonlyArray<unknown> | IdentityMapResponseError => {
    const value = body[field] ?? []
    if (!Array.isArray(value)) return malformed(`${field} is not an array`)
    const expected = layout.sent[f]!
    return value.length === expected
      ? value
      : malformed(`${field} has ${value.length} answers for ${expected} identifiers`)
  })
  const times: Times = new Map()
  return (i) => {
    const local = invalidAt(layout, i)
    if (local !== undefined) return local
    const input = layout.inputs[i]!
    const field = layout.fields[i] as typeof EMAIL_HASH | typeof PHONE_HASH
    const array = answers[field]!
    if (!Array.isArray(array)) return makeFailed({ input, error: array as IdentityMapResponseError })
    const slot = layout.slots[i]!
    return answerFor(input, array[slot], FIELDS[field], slot, times)
  }
}

/** The result of each item of an answered batch. */
const resultOfAnswer = (answer: Answer): (i: number) => MapResult => {
  const { layout, outcome } = answer
  answer.outcome = undefined
  return outcome === undefined
    ? (i) => invalidAt(layout, i)!
    : Either.isLeft(outcome)
    ? failedAt(layout, outcome.left)
    : resultsOf(layout, outcome.right)
}

/** Counters of the results emitted, added to the progress once a batch's last result is out. */
const resultCounter = () => {
  let mapped = 0
  let unmapped = 0
  let invalid = 0
  let failed = 0
  return {
    count: (r: MapResult): MapResult => {
      if (r._tag === "Mapped") mapped++
      else if (r._tag === "Unmapped") unmapped++
      else if (r._tag === "Invalid") invalid++
      else failed++
      return r
    },
    add: (p: Progress): Progress => ({
      ...p,
      mapped: p.mapped + mapped,
      unmapped: p.unmapped + unmapped,
      invalid: p.invalid + invalid,
      failed: p.failed + failed
    })
  }
}

// ---------------------------------------------------------------------------
// Service

/**
 * Tuning of the pipeline. Every value is clamped to its documented range.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Requests in flight at most: 1 to {@link MAX_CONCURRENCY} (the default). */
  readonly concurrency?: number | undefined
  /** Items per request: 1 to {@link MAX_BATCH_ITEMS} (the default). */
  readonly maxBatchItems?: number | undefined
  /** Bytes of request JSON per request: 256 to {@link MAX_REQUEST_BYTES} (the default). */
  readonly maxRequestBytes?: number | undefined
  /**
   * `true` (default): results come out in input order; a request that
   * finishes early waits for the ones before it, so at most `concurrency`
   * requests' results are held. `false`: each request's results come out as
   * soon as it finishes, so the order is not the input's.
   */
  readonly ordered?: boolean | undefined
}

/**
 * Options of one {@link IdentityMapClientShape.mapStream} or
 * {@link IdentityMapClientShape.map}: the client's tuning, overridden, and
 * where to report progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface MapOptions extends ClientOptions {
  /**
   * Updated once per request with the counters it adds; shared refs add up.
   * Pass a `SubscriptionRef` ({@link makeProgress}) to subscribe to changes.
   */
  readonly progress?: Ref.Ref<Progress> | undefined
}

/**
 * The identity map operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityMapClientShape {
  /**
   * Maps a stream of inputs; one result per input, emitted as requests
   * finish. The stream fails only when `inputs` fails; a request that fails
   * after the transport's retries yields `Failed` results for exactly its
   * items. Stopping early (e.g. `Stream.take`) interrupts the requests in
   * flight.
   */
  readonly mapStream: <E, R>(inputs: Stream.Stream<Input, E, R>, options?: MapOptions) => Stream.Stream<MapResult, E, R>
  /** Maps a list (split into requests as `mapStream` does) and groups the results. */
  readonly map: (inputs: Iterable<Input>, options?: MapOptions) => Effect.Effect<MapResponse>
}

/**
 * The identity map client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class IdentityMapClient extends Context.Tag("effect-uid2/IdentityMapClient")<
  IdentityMapClient,
  IdentityMapClientShape
>() {}

interface Settings {
  readonly concurrency: number
  readonly maxItems: number
  readonly maxBytes: number
  readonly ordered: boolean
}

const settingsOf = (options: ClientOptions | undefined, base: Settings): Settings => ({
  concurrency: clampInt(options?.concurrency, 1, MAX_CONCURRENCY, base.concurrency),
  maxItems: clampInt(options?.maxBatchItems, 1, MAX_BATCH_ITEMS, base.maxItems),
  maxBytes: options?.maxRequestBytes === undefined
    ? base.maxBytes
    : clampInt(options.maxRequestBytes, 256, MAX_REQUEST_BYTES, MAX_REQUEST_BYTES) - JSON_OVERHEAD,
  ordered: options?.ordered ?? base.ordered
})

const DEFAULTS: Settings = {
  concurrency: MAX_CONCURRENCY,
  maxItems: MAX_BATCH_ITEMS,
  maxBytes: MAX_REQUEST_BYTES - JSON_OVERHEAD,
  ordered: true
}

/**
 * Builds the client over the provided transport; `Crypto`'s SHA-256 hashes
 * the inputs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientOptions = {}
): Effect.Effect<IdentityMapClientShape, never, HttpTransport.HttpTransport | Crypto.Crypto> =>
  Effect.gen(function*() {
    const transport = yield* HttpTransport.HttpTransport
    const crypto = yield* Crypto.Crypto
    const defaults = settingsOf(options, DEFAULTS)
    const prepare = preparer(crypto)

    const runBatch = (
      inputs: ReadonlyArray<Input>,
      progress: Ref.Ref<Progress> | undefined
    ): Effect.Effect<Answer> =>
      Effect.suspend(() => {
        const { layout, payload } = takeRequest(inputs, prepare)
        if (layout.wire === 0) return Effect.succeed({ layout, outcome: undefined })
        let attempts = 0
        const onAttempt = Effect.suspend(() =>
          ++attempts > 1 ? updateProgress(progress, (p) => ({ ...p, retries: p.retries + 1 })) : Effect.void
        )
        return updateProgress(progress, (p) => ({ ...p, requests: p.requests + 1, inFlight: p.inFlight + 1 })).pipe(
          Effect.zipRight(
            observeAttempts(transport.post(MAP_PATH, payload, { binary: true }), onAttempt).pipe(
              Effect.ensuring(updateProgress(progress, (p) => ({ ...p, inFlight: p.inFlight - 1 })))
            )
          ),
          Effect.either,
          Effect.map((outcome): Answer => ({ layout, outcome })),
          Effect.withSpan("effect-uid2/IdentityMap.request", { attributes: { "uid2.items": layout.inputs.length } })
        )
      })

    /** A batch's results, made a chunk at a time as they are pulled, and counted. */
    const emit = (answer: Answer, progress: Ref.Ref<Progress> | undefined): Stream.Stream<MapResult> =>
      Stream.suspend(() => {
        const resultAt = resultOfAnswer(answer)
        const counter = resultCounter()
        const results = resultChunks(answer.layout.inputs.length, (i) => counter.count(resultAt(i)))
        return progress === undefined
          ? results
          : Stream.concat(results, Stream.execute(Effect.suspend(() => updateProgress(progress, counter.add))))
      })

    const mapStream = <E, R>(inputs: Stream.Stream<Input, E, R>, callOptions?: MapOptions) => {
      const settings = settingsOf(callOptions, defaults)
      const progress = callOptions?.progress
      const cut = Stream.tap(
        batches(inputs, { maxItems: settings.maxItems, maxBytes: settings.maxBytes }, costOf),
        (batch) => updateProgress(progress, (p) => ({ ...p, read: p.read + batch.length }))
      )
      return runBatches(
        cut,
        settings,
        (batch) => runBatch(batch, progress),
        (answer) => emit(answer, progress)
      )
    }

    const map = (inputs: Iterable<Input>, callOptions?: MapOptions) =>
      Effect.map(
        Stream.runCollect(mapStream(Stream.fromIterable(inputs), callOptions)),
        (chunk) => responseOf(Chunk.toReadonlyArray(chunk))
      )

    return IdentityMapClient.of({ mapStream, map })
  })

// ---------------------------------------------------------------------------
// Layers

/**
 * Options of the layers: the operator (URL, API key, client secret, timeout,
 * retry policy) and the client's tuning.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpTransport.Options, ClientOptions {}

/**
 * The client with its own transport, on the `Crypto` and `HttpClient` the app
 * provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<IdentityMapClient, InvalidClientSecret, Crypto.Crypto | HttpClient.HttpClient> =>
  Layer.effect(IdentityMapClient, make(options)).pipe(
    Layer.provide(HttpTransport.layer(options).pipe(Layer.provide(layerReportingAttempts)))
  )

/**
 * Everything in one layer: node:crypto and Node's HTTP client
 * (`@effect/platform-node`, an optional peer, imported when the layer is
 * built).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<IdentityMapClient, InvalidClientSecret> =>
  layerWith(options).pipe(Layer.provide(layerNodeReportingAttempts), Layer.provide(Crypto.layerNode))

/**
 * {@link layer} configured from `config`; by default `UID2_BASE_URL`,
 * `UID2_API_KEY` and `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = HttpTransport.config
): Layer.Layer<IdentityMapClient, InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))
