/**
 * `uid2 operator`: runs the local test operator for other programs: on
 * loopback, on `--port` (default a free one), UID2 or EUID. Prints the base
 * URL and each role's credentials (test credentials, public by design),
 * then serves until Ctrl-C or SIGTERM, when it closes its socket and exits 0.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as TestOperator from "../testing/TestOperator.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { colorsOn, palette, printError, printJson, printLine, stdout } from "./terminal.js"
import { columns } from "./text.js"

/**
 * What each test client is for.
 *
 * @since 0.1.0
 * @category constants
 */
export const ROLES: ReadonlyArray<readonly [name: string, client: TestOperator.ClientCredentials, use: string]> = [
  ["publisher", TestOperator.PUBLISHER_CLIENT, "generate, refresh, validate"],
  ["dsp", TestOperator.DSP_CLIENT, "keys, decrypt (bidstream)"],
  ["sharer", TestOperator.SHARER_CLIENT, "keys, encrypt, decrypt (sharing)"],
  ["advertiser", TestOperator.MAPPER_CLIENT, "map, optout"],
  ["all roles", TestOperator.DEFAULT_CLIENT, "everything"]
]

/** Resolves on the first SIGINT or SIGTERM; the listeners replace Node's default exit. */
const awaitSignal = Effect.async<NodeJS.Signals>((resume) => {
  const on = (signal: NodeJS.Signals) => resume(Effect.succeed(signal))
  process.once("SIGINT", on)
  process.once("SIGTERM", on)
  return Effect.sync(() => {
    process.removeListener("SIGINT", on)
    process.removeListener("SIGTERM", on)
  })
})

const describeServeError = (cause: unknown, port: number | undefined): string => {
  const code = (cause as { code?: unknown } | undefined)?.code
  if (code === "EADDRINUSE") return `port ${port} is already in use`
  if (code === "EACCES") return `no permission to listen on port ${port}`
  return "the operator could not listen"
}

/**
 * The `operator` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "operator",
  {
    ...Flags.output,
    port: Options.integer("port").pipe(
      Options.withPseudoName("PORT"),
      Options.withDescription("The port on 127.0.0.1 (default: a free one)."),
      Options.optional
    ),
    scope: Options.choice("scope", ["UID2", "EUID"] as const).pipe(
      Options.withDefault("UID2" as const),
      Options.withDescription("UID2 (default) or EUID: the scope of its keys and tokens.")
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const port = Option.getOrUndefined(flags.port)
        if (port !== undefined && (port < 0 || port > 65535)) return yield* Errors.usage(`--port ${port} is not a port`)
        const operator = yield* TestOperator.make({ port, identityScope: flags.scope }).pipe(
          Effect.catchTags({
            ServeError: (error) =>
              Effect.fail(
                new Errors.CliError({
                  exitCode: 3,
                  status: "ServeError",
                  message: describeServeError(error.cause, port),
                  cause: error
                })
              ),
            InvalidClientSecret: (error) => Effect.fail(Errors.config(error.message, error))
          })
        )
        // The request log is for tests; a long-running operator forgets it now and then.
        yield* operator.clearRequests().pipe(Effect.repeat(Schedule.spaced("1 minute")), Effect.forkScoped)
        const clients = ROLES.map(([role, client, use]) => ({
          role,
          apiKey: client.apiKey,
          secretKey: client.secret,
          siteId: client.siteId,
          roles: client.roles,
          use
        }))
        if (flags.json) {
          yield* printJson({ status: "listening", baseUrl: operator.baseUrl, scope: operator.identityScope, clients })
        } else {
          const c = palette(colorsOn(stdout))
          const dsp = TestOperator.DSP_CLIENT
          yield* printLine(c.bold(`UID2 test operator (${operator.identityScope}) listening on ${operator.baseUrl}`))
          yield* printLine("")
          const rows = [
            ["role", "API key", "secret", "for"],
            ...clients.map((x) => [x.role, x.apiKey, x.secretKey, x.use])
          ]
          for (const line of columns(rows)) {
            yield* printLine(`  ${line}`)
          }
          yield* printLine("")
          yield* printLine("Test identities: optout@example.com and +00000000000 are opted out;")
          yield* printLine("refresh-optout@example.com opts out on refresh; validate@example.com always maps.")
          yield* printLine("")
          yield* printLine(c.dim("For example, as a DSP:"))
          yield* printLine(
            `  export UID2_BASE_URL=${operator.baseUrl} UID2_API_KEY=${dsp.apiKey} UID2_SECRET_KEY=${dsp.secret}`
          )
          yield* printLine("  uid2 keys")
          yield* printLine("")
          yield* printLine(c.dim("Ctrl-C stops it."))
        }
        const signal = yield* awaitSignal
        yield* printError(`uid2 operator: ${signal}, stopped`)
        return Errors.ExitCode.Success
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "Run the local test operator for other programs: the real envelope, keys, tokens, identity map and opt-outs.",
  [
    "Listens on 127.0.0.1 only, and prints its base URL and the test credentials of each role (with --json: one" +
    " line {\"status\":\"listening\",\"baseUrl\",\"scope\",\"clients\":[…]}). Stops cleanly on Ctrl-C or SIGTERM.",
    EXIT_CODES
  ],
  [
    ["on a fixed port", "uid2 operator --port 8080"],
    ["an EUID operator, its URL for a script", "uid2 operator --scope EUID --json | head -1"]
  ]
)))
