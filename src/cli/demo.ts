/**
 * `uid2 demo`: starts an embedded test operator on loopback and walks every
 * role end to end with readable output; each step timed and marked passed
 * or failed, the last line `N passed, N failed`, exit 1 when a step failed.
 * `--fault` scripts the operator to misbehave, to see how failures read.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TestOperator from "../testing/TestOperator.js"
import { type DemoState, roles } from "./demoRoles.js"
import { type Outcome, outcomeLine, type Reporter, type Role, runRoles, summaryLine } from "./demoRunner.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { colorsOn, palette, printJson, printLine, stdout } from "./terminal.js"

/**
 * A scripted misbehaviour of the embedded operator, taken by every request
 * to `path` (or to any path).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly kind: "status" | "malformed" | "wrong-nonce" | "drop"
  readonly status: number
  readonly path: string | undefined
}

/**
 * Parses `--fault` values: `STATUS`, `malformed`, `wrong-nonce` or `drop`,
 * optionally `@PATH` (e.g. `503@/v2/key/sharing`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFault = (text: string): Either.Either<Fault, string> => {
  const [what = "", path] = text.split("@", 2)
  if (path !== undefined && !path.startsWith("/")) return Either.left(`--fault ${text}: the path must start with /`)
  const at = path === undefined || path.length === 0 ? undefined : path
  if (/^\d{3}$/.test(what)) {
    const status = Number(what)
    if (status < 400 || status > 599) return Either.left(`--fault ${text}: the status must be 400–599`)
    return Either.right({ kind: "status", status, path: at })
  }
  if (what === "malformed" || what === "wrong-nonce" || what === "drop") {
    return Either.right({ kind: what, status: 0, path: at })
  }
  return Either.left(`--fault ${text}: expected a status (400–599), malformed, wrong-nonce or drop, optionally @PATH`)
}

/** Every matching request takes the fault: the queue count is effectively unbounded. */
const EVERY = 1_000_000_000

const applyFault = (operator: TestOperator.TestOperatorShape, fault: Fault): Effect.Effect<void> => {
  const options = { path: fault.path }
  switch (fault.kind) {
    case "status":
      return operator.failNext(EVERY, fault.status, options)
    case "malformed":
      return operator.sendMalformedBodyNext(EVERY, options)
    case "wrong-nonce":
      return operator.wrongNonceNext(EVERY, options)
    case "drop":
      return operator.dropConnectionNext(EVERY, options)
  }
}

const STEP_TIMEOUT = "20 seconds"

const textReporter = (nameWidth: number): Reporter => {
  const c = palette(colorsOn(stdout))
  return {
    role: (role) => Effect.zipRight(printLine(""), printLine(`${c.bold(role.title)} ${c.dim(`— ${role.blurb}`)}`)),
    outcome: (outcome) => printLine(outcomeLine(outcome, nameWidth, c, stdout.isTTY ? stdout.columns : undefined))
  }
}

const jsonReporter: Reporter = {
  role: () => Effect.void,
  outcome: (o: Outcome) =>
    printJson({
      role: o.role,
      step: o.step,
      status: o.passed ? "passed" : "failed",
      ran: o.ran,
      millis: Math.round(o.millis * 10) / 10,
      detail: o.detail
    })
}

/**
 * Runs the demo against a fresh operator; the outcomes of every step.
 *
 * @since 0.1.0
 * @category running
 */
export const runDemo = (options: {
  readonly faults: ReadonlyArray<Fault>
  readonly scope: "UID2" | "EUID"
  readonly json: boolean
  readonly roles?: ReadonlyArray<Role<DemoState>> | undefined
}) =>
  Effect.gen(function*() {
    const walk = options.roles ?? roles
    const operator = yield* TestOperator.make({ identityScope: options.scope }).pipe(
      Effect.mapError((error) =>
        new Errors.CliError({
          exitCode: 3,
          status: error._tag,
          message: "the embedded operator did not start",
          cause: error
        })
      )
    )
    for (const fault of options.faults) yield* applyFault(operator, fault)
    const nameWidth = Math.max(...walk.flatMap((role) => role.steps.map((step) => step.name.length)))
    if (!options.json) {
      const c = palette(colorsOn(stdout))
      yield* printLine(c.bold(`uid2 demo: every ${options.scope} role, end to end, against a local operator`))
      yield* printLine(c.dim(`operator ${operator.baseUrl} (embedded; it stops with the demo)`))
      if (options.faults.length > 0) {
        yield* printLine(c.yellow(`scripted faults: ${options.faults.map(faultText).join(", ")}`))
      }
    }
    const outcomes = yield* runRoles(
      walk,
      { operator },
      options.json ? jsonReporter : textReporter(nameWidth),
      STEP_TIMEOUT
    )
    return outcomes
  }).pipe(Effect.scoped)

const faultText = (fault: Fault): string =>
  `${fault.kind === "status" ? fault.status : fault.kind}${
    fault.path === undefined ? " on every path" : ` on ${fault.path}`
  }`

/**
 * The `demo` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "demo",
  {
    ...Flags.output,
    scope: Options.choice("scope", ["UID2", "EUID"] as const).pipe(
      Options.withDefault("UID2" as const),
      Options.withDescription("Walk a UID2 (default) or an EUID operator.")
    ),
    fault: Options.text("fault").pipe(
      Options.withPseudoName("FAULT"),
      Options.repeated,
      Options.withDescription(
        "Make the embedded operator misbehave on every request (repeatable): an HTTP status 400–599, malformed" +
          " (a body that is not an envelope), wrong-nonce or drop (connection closed), optionally @PATH, e.g." +
          " 503@/v2/key/sharing."
      )
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const faults: Array<Fault> = []
        for (const text of flags.fault) {
          const parsed = parseFault(text)
          if (Either.isLeft(parsed)) return yield* Errors.usage(parsed.left)
          faults.push(parsed.right)
        }
        const outcomes = yield* runDemo({ faults, scope: flags.scope, json: flags.json })
        const failed = outcomes.filter((o) => !o.passed).length
        if (flags.json) {
          yield* printJson({ passed: outcomes.length - failed, failed })
        } else {
          yield* printLine("")
          if (failed === 0) {
            const c = palette(colorsOn(stdout))
            yield* printLine(
              c.dim("Next: `uid2 operator` runs this operator for your own code; `uid2 --help` lists the tools.")
            )
          }
          yield* printLine(summaryLine(outcomes))
        }
        return failed === 0 ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      })
    )
).pipe(Command.withDescription(page(
  "Walk every UID2 role end to end against an embedded local operator, with readable output.",
  [
    "Publisher: generate a token, store the identity, refresh it, validate it, an opted-out user. DSP: fetch" +
    " bidstream keys, decrypt the publisher's token, a client-side token on its domain and on another (refused," +
    " with the exact reason). Sharer: fetch sharing keys, encrypt a raw UID2, decrypt it back. Advertiser: map a" +
    " mixed list of emails and phones, then the opt-out status of raw UIDs.",
    "Each step is timed and marked ✓ or ✗; the last line is `N passed, N failed` and the exit code is 1 when a step" +
    " failed. With --json: one JSON line per step, then {\"passed\":N,\"failed\":N}.",
    EXIT_CODES
  ],
  [
    ["the walk-through (what `npm start` runs)", "uid2 demo"],
    [
      "how failures read: every key request answered with a body that is not an envelope",
      "uid2 demo --fault malformed@/v2/key/bidstream"
    ],
    ["for a script", "uid2 demo --json"]
  ]
)))
