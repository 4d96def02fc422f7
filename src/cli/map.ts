/**
 * `uid2 map FILE`: maps the emails, phones and hashes of a CSV or NDJSON
 * file to raw UID2s with identity map v3, streaming one result per row to
 * stdout (NDJSON or CSV, in input order) with progress on stderr.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as IdentityMap from "../IdentityMap.js"
import * as Batch from "./batchOptions.js"
import { transportOptions } from "./connection.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { pick, type Row } from "./records.js"
import { type Answer, run } from "./rowsCommand.js"

/**
 * The identity columns (or NDJSON fields) a row may hold, one per row.
 *
 * @since 0.1.0
 * @category constants
 */
export const IDENTITY_FIELDS = ["email", "phone", "email_hash", "phone_hash"] as const

/**
 * The identity map input of a row.
 *
 * @since 0.1.0
 * @category input
 */
export const inputOf = (row: Row): Either.Either<IdentityMap.Input, string> =>
  Either.map(pick(row, IDENTITY_FIELDS), ([name, value]) => {
    switch (name) {
      case "email":
        return IdentityMap.email(value)
      case "phone":
        return IdentityMap.phone(value)
      case "email_hash":
        return IdentityMap.emailHash(value)
      default:
        return IdentityMap.phoneHash(value)
    }
  })

const reasonText = (result: IdentityMap.Unmapped): string =>
  result.reason === "OptOut"
    ? "optout"
    : result.reason === "InvalidIdentifier"
    ? "invalid identifier"
    : result.rawReason

/**
 * The output fields of a result.
 *
 * @since 0.1.0
 * @category output
 */
export const answerOf = (result: IdentityMap.MapResult): Answer => {
  switch (result._tag) {
    case "Mapped":
      return {
        status: "mapped",
        kind: "ok",
        fields: {
          raw_uid: result.currentRawUid,
          previous_raw_uid: Option.getOrNull(result.previousRawUid),
          refresh_from: DateTime.formatIso(result.refreshFrom)
        }
      }
    case "Unmapped":
      return { status: "unmapped", kind: "ok", fields: { reason: reasonText(result) } }
    case "Invalid":
      return { status: "invalid", kind: "invalid", fields: { message: result.error.message } }
    case "Failed":
      return { status: "failed", kind: "failed", fields: { message: result.error.message } }
  }
}

/**
 * The `map` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "map",
  {
    ...Flags.output,
    ...Flags.credentials,
    file: Batch.file,
    input: Batch.input,
    output: Batch.output,
    concurrency: Options.integer("concurrency").pipe(
      Options.withPseudoName("N"),
      Options.withDefault(4),
      Options.withDescription(`Requests in flight at most, 1 to ${IdentityMap.MAX_CONCURRENCY} (default 4).`)
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        if (flags.concurrency < 1 || flags.concurrency > IdentityMap.MAX_CONCURRENCY) {
          return yield* Errors.usage(`--concurrency must be 1 to ${IdentityMap.MAX_CONCURRENCY}`)
        }
        const options = yield* transportOptions(flags)
        const client = Context.get(
          yield* Layer.build(IdentityMap.layer(options).pipe(Layer.mapError(Errors.operator))),
          IdentityMap.IdentityMapClient
        )
        const progress = yield* Ref.make(IdentityMap.initialProgress)
        return yield* run({
          label: "map",
          resultColumns: ["raw_uid", "previous_raw_uid", "refresh_from", "reason", "message"],
          itemOf: inputOf,
          process: (inputs) => Effect.map(client.map(inputs, { progress }), (response) => response.results),
          answer: answerOf,
          counters: () => {
            const p = Effect.runSync(Ref.get(progress))
            return { settled: IdentityMap.settled(p), retries: p.retries, inFlight: p.inFlight }
          }
        }, { file: flags.file, input: flags.input, output: flags.output, concurrency: flags.concurrency })
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "Map emails, phones and their hashes to raw UID2s (advertisers, data providers): identity map v3.",
  [
    "Each row holds one of the columns (or NDJSON fields) email, phone, email_hash, phone_hash; other columns are" +
    " carried through. Emails are normalized and everything is hashed here; only hashes are sent. Results stream" +
    " to stdout in input order, one per row: {\"line\",\"input\",\"status\":\"mapped\",\"raw_uid\",\"previous_raw_uid\"," +
    "\"refresh_from\"} or status unmapped (reason optout, invalid identifier…), invalid (rejected here, with" +
    " message) or failed (its request failed). Progress goes to stderr: a bar on a terminal, a plain line every" +
    " few seconds otherwise.",
    "Exits 1 when a row was invalid, 3 when a request failed. " + EXIT_CODES
  ],
  [
    ["a customer list, results to a file", "uid2 map customers.csv > mapped.ndjson"],
    ["as CSV, from stdin", "cat customers.csv | uid2 map --output csv > mapped.csv"]
  ]
)))
