/**
 * Where the key-based commands get their ring: a saved key response
 * (`--keys FILE`, offline) or the operator's `/v2/key/bidstream` or
 * `/v2/key/sharing` (online). Either way the ring is prepared once for the
 * best Crypto available, and every token after that is a synchronous call.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { open, rename, stat, unlink } from "node:fs/promises"
import { Crypto, type CryptoShape } from "../Crypto.js"
import { prepare, type PreparedRing } from "../Decryption.js"
import * as HttpTransport from "../HttpTransport.js"
import { layerBestCrypto } from "../internal/bestCrypto.js"
import * as KeyRing from "../KeyRing.js"
import { type CredentialFlags, transportLayer } from "./connection.js"
import * as Errors from "./errors.js"
import type { ClientKind } from "./options.js"

/**
 * The largest keys file read (a bidstream body with many sites is a few MB).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_KEYS_FILE = 64 * 1024 * 1024

/**
 * A ring and where it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadedRing {
  readonly ring: KeyRing.KeyRing
  /** The response `body` as received (for `--save`). */
  readonly body: unknown
  /** `file keys.json` or the endpoint's URL, for messages. */
  readonly origin: string
}

/**
 * The key endpoint of a client kind.
 *
 * @since 0.1.0
 * @category constants
 */
export const endpointOf = (client: ClientKind): "/v2/key/bidstream" | "/v2/key/sharing" =>
  client === "bidstream" ? "/v2/key/bidstream" : "/v2/key/sharing"

const describeFsError = (cause: unknown): string => {
  const code = (cause as { code?: unknown } | undefined)?.code
  switch (code) {
    case "ENOENT":
      return "no such file"
    case "EACCES":
      return "permission denied"
    case "EISDIR":
      return "is a directory"
    default:
      return typeof code === "string" ? code : "read failed"
  }
}

/**
 * Parses a saved key response: the `body` alone, or `{"body": …}` around it.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseKeysText = (text: string, origin: string): Either.Either<LoadedRing, Errors.CliError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left(Errors.config(`${origin} is not JSON`))
  }
  const wrapped = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && "body" in parsed
  const body = wrapped ? (parsed as { body: unknown }).body : parsed
  return Either.mapBoth(KeyRing.fromBody(body), {
    onLeft: (error) => Errors.config(`${origin}: ${error.message}`, error),
    onRight: (ring) => ({ ring, body, origin })
  })
}

/**
 * Reads and parses a keys file (at most {@link MAX_KEYS_FILE} bytes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const readKeysFile = (path: string): Effect.Effect<LoadedRing, Errors.CliError> =>
  Effect.gen(function*() {
    const origin = `keys file ${path}`
    const info = yield* Effect.tryPromise({
      try: () => stat(path),
      catch: (cause) => Errors.config(`${origin}: ${describeFsError(cause)}`, cause)
    })
    if (!info.isFile()) return yield* Errors.config(`${origin}: not a regular file`)
    if (info.size > MAX_KEYS_FILE) return yield* Errors.config(`${origin}: larger than ${MAX_KEYS_FILE} bytes`)
    const text = yield* Effect.tryPromise({
      try: async () => {
        const handle = await open(path, "r")
        try {
          return await handle.readFile({ encoding: "utf8" })
        } finally {
          await handle.close()
        }
      },
      catch: (cause) => Errors.config(`${origin}: ${describeFsError(cause)}`, cause)
    })
    return yield* parseKeysText(text, origin)
  })

/**
 * Fetches the ring of `client` from the operator.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fetchRing = (flags: CredentialFlags, client: ClientKind): Effect.Effect<LoadedRing, Errors.CliError> =>
  Effect.gen(function*() {
    const transport = yield* HttpTransport.HttpTransport
    const endpoint = endpointOf(client)
    const json = yield* transport.post(endpoint, undefined).pipe(Effect.mapError(Errors.operator))
    const origin = `${Option.getOrElse(flags.baseUrl, () => "")}${endpoint}`
    const parsed = parseKeysText(json, `the response of ${endpoint}`)
    if (Either.isLeft(parsed)) {
      const { cause, message } = parsed.left
      return yield* new Errors.CliError({
        exitCode: Errors.ExitCode.Operator,
        status: "InvalidKeyResponse",
        message,
        cause
      })
    }
    return { ...parsed.right, origin }
  }).pipe(Effect.provide(transportLayer(flags)), Effect.scoped)

/**
 * The ring from `--keys FILE` when given, else from the operator.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadRing = (options: {
  readonly keys: Option.Option<string>
  readonly credentials: CredentialFlags
  readonly client: ClientKind
}): Effect.Effect<LoadedRing, Errors.CliError> =>
  Option.match(options.keys, {
    onSome: readKeysFile,
    onNone: () => fetchRing(options.credentials, options.client)
  })

/**
 * The best Crypto available here: the native adapter when built, else node:crypto.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bestCrypto: Effect.Effect<CryptoShape> = Effect.provide(Crypto, layerBestCrypto)

/**
 * A ring prepared for the best Crypto, released when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepared = (ring: KeyRing.KeyRing) =>
  Effect.acquireRelease(
    Effect.map(bestCrypto, (crypto): PreparedRing => prepare(ring, crypto)),
    (p) => Effect.sync(() => p.release())
  )

/**
 * Writes a key response body to `path` for offline use: through a temporary
 * file renamed into place, mode 0600 (it holds key material).
 *
 * @since 0.1.0
 * @category persistence
 */
export const saveBody = (path: string, body: unknown): Effect.Effect<void, Errors.CliError> =>
  Effect.tryPromise({
    try: async () => {
      const temp = `${path}.${process.pid}.tmp`
      const handle = await open(temp, "w", 0o600)
      try {
        await handle.writeFile(`${JSON.stringify({ body }, null, 2)}\n`, "utf8")
        await handle.sync()
      } finally {
        await handle.close()
      }
      try {
        await rename(temp, path)
      } catch (error) {
        await unlink(temp).catch(() => undefined)
        throw error
      }
    },
    catch: (cause) => Errors.config(`could not save the keys to ${path}: ${describeFsError(cause)}`, cause)
  })
