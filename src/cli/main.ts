#!/usr/bin/env node
/**
 * The `uid2` command: a local operator and the demo that walks every role
 * against it, and the tools that explain, decrypt and make tokens, fetch
 * keys, and map or check identities against an operator. Its own entry
 * point: importing `effect-uid2` never loads it.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { VERSION } from "../HttpTransport.js"
import * as Decrypt from "./decrypt.js"
import * as Demo from "./demo.js"
import * as Encrypt from "./encrypt.js"
import { ExitCode, Reported } from "./errors.js"
import * as Generate from "./generate.js"
import { EXIT_CODES, list, page } from "./help.js"
import * as Inspect from "./inspect.js"
import * as Keys from "./keys.js"
import * as MapCommand from "./map.js"
import * as Operator from "./operator.js"
import * as OptOut from "./optout.js"
import * as Refresh from "./refresh.js"
import { withPlainConsole } from "./terminal.js"
import * as Validate from "./validate.js"

const COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ["demo", "walk every role end to end against an embedded local operator"],
  ["operator", "run the local test operator for your own programs"],
  ["inspect", "explain a token: header without keys, every field and the failure reason with keys"],
  ["decrypt", "decrypt tokens (argument or one per line on stdin), offline with --keys or online"],
  ["encrypt", "make sharing tokens from raw UID2s"],
  ["keys", "fetch and summarise a key ring; --save it for offline use"],
  ["generate", "generate a token for an email or phone (publishers)"],
  ["refresh", "refresh a stored identity (publishers)"],
  ["validate", "check that a token you generated belongs to an email or phone (publishers)"],
  ["map", "map a CSV or NDJSON file of emails and phones to raw UID2s (advertisers)"],
  ["optout", "the opt-out status of a file of raw UID2s"]
]

const root = Command.make("uid2").pipe(
  Command.withDescription(page(
    "Tools for UID2 and EUID: run a local operator, walk every role end to end, explain and decrypt tokens.",
    [
      "Start with `uid2 demo`. Every command has --help with examples, and --json for machine-readable output.",
      "Online commands read the operator's URL and your credentials from --base-url, --api-key, --secret-key or" +
      " UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY. Secrets are never printed.",
      EXIT_CODES
    ],
    [
      ["every role against an embedded local operator", "uid2 demo"],
      ["what a token says about itself", "uid2 inspect AgAAAA…"]
    ],
    list("COMMANDS", COMMANDS)
  )),
  Command.withSubcommands([
    Demo.command,
    Operator.command,
    Inspect.command,
    Decrypt.command,
    Encrypt.command,
    Keys.command,
    Generate.command,
    Refresh.command,
    Validate.command,
    MapCommand.command,
    OptOut.command
  ])
)

const cli = Command.run(root, { name: "uid2", version: VERSION })

/** The exit code of a finished run. */
const exitCodeOf = (exit: Exit.Exit<void, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Success
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    if (failure.value instanceof Reported) return failure.value.exitCode
    if (ValidationError.isValidationError(failure.value)) return ExitCode.Usage
  }
  return ExitCode.Operator
}

const program = cli(process.argv).pipe(
  withPlainConsole,
  Effect.provide(Layer.merge(NodeContext.layer, CliConfig.layer({ showBuiltIns: false, showTypes: false })))
)

// A reader that goes away (`uid2 decrypt < in | head`) ends the run quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(ExitCode.Success)
})

Effect.runFork(program).addObserver((exit) => {
  const code = exitCodeOf(exit)
  if (code === ExitCode.Operator && Exit.isFailure(exit) && Cause.failureOption(exit.cause)._tag === "None") {
    process.stderr.write(`uid2: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
  }
  process.exitCode = code
  // Let stdout and stderr drain before leaving, whatever lingers in the event loop.
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
})
