/**
 * `uid2 optout FILE`: the opt-out status of the raw UID2s of a CSV or NDJSON
 * file (`POST /v2/optout/status`, one request at a time as the operator
 * requires), streaming one result per row to stdout with progress on stderr.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as OptOut from "../OptOut.js"
import * as Batch from "./batchOptions.js"
import { transportOptions } from "./connection.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { pick, type Row } from "./records.js"
import { type Answer, run } from "./rowsCommand.js"

/**
 * The raw UID columns (or NDJSON fields) a row may hold.
 *
 * @since 0.1.0
 * @category constants
 */
export const RAW_UID_FIELDS = ["raw_uid", "advertising_id", "uid"] as const

/**
 * The raw UID of a row.
 *
 * @since 0.1.0
 * @category input
 */
export const rawUidOf = (row: Row): Either.Either<string, string> =>
  Either.map(pick(row, RAW_UID_FIELDS), ([, value]) => value)

/**
 * The output fields of a result.
 *
 * @since 0.1.0
 * @category output
 */
export const answerOf = (result: OptOut.StatusResult): Answer => {
  switch (result._tag) {
    case "OptedOut":
      return { status: "opted_out", kind: "ok", fields: { opted_out_since: DateTime.formatIso(result.optedOutSince) } }
    case "NotOptedOut":
      return { status: "not_opted_out", kind: "ok", fields: {} }
    case "Invalid":
      return { status: "invalid", kind: "invalid", fields: { message: result.error.message } }
    case "Failed":
      return { status: "failed", kind: "failed", fields: { message: result.error.message } }
  }
}

/**
 * The `optout` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "optout",
  {
    ...Flags.output,
    ...Flags.credentials,
    file: Batch.file,
    input: Batch.input,
    output: Batch.output
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const options = yield* transportOptions(flags)
        const client = Context.get(
          yield* Layer.build(OptOut.layer(options).pipe(Layer.mapError(Errors.operator))),
          OptOut.OptOutClient
        )
        const progress = yield* Ref.make(OptOut.initialProgress)
        return yield* run({
          label: "optout",
          resultColumns: ["opted_out_since", "message"],
          itemOf: rawUidOf,
          process: (rawUids) => Effect.map(client.status(rawUids, { progress }), (response) => response.results),
          answer: answerOf,
          counters: () => {
            const p = Effect.runSync(Ref.get(progress))
            return {
              settled: p.optedOut + p.notOptedOut + p.invalid + p.failed,
              retries: p.retries,
              inFlight: p.inFlight
            }
          }
        }, { file: flags.file, input: flags.input, output: flags.output, concurrency: 1 })
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "The opt-out status of raw UID2s (DSPs, sharers, advertisers): POST /v2/optout/status.",
  [
    "Each row holds a raw_uid column (or advertising_id, uid; NDJSON: the same fields); other columns are carried" +
    " through. Requests of 5,000 go one at a time, as the operator requires. Results stream to stdout in input" +
    " order: status opted_out (with opted_out_since), not_opted_out, invalid (not a raw UID2) or failed. Progress" +
    " goes to stderr: a bar on a terminal, a plain line every few seconds otherwise.",
    "Exits 1 when a row was invalid, 3 when a request failed. " + EXIT_CODES
  ],
  [
    ["the raw UIDs of a file", "uid2 optout raw-uids.csv > status.ndjson"],
    ["the output of `uid2 map`, as CSV", "uid2 map customers.csv | uid2 optout --output csv"]
  ]
)))
