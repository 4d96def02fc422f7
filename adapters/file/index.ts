/**
 * A `KeyStore` on the file system, for warm starts across restarts: a
 * client whose operator is down at start-up becomes ready from the ring it
 * saved last, as long as that ring can still decrypt.
 *
 * One file per slot: `<directory>/<slot>.json`, or a path template such as
 * `/var/lib/app/uid2-{slot}.json`. Each file is written atomically (a temp
 * file in the same directory, created exclusively with mode 0600, fsynced,
 * renamed over the old one, the directory fsynced), so readers and other
 * writers never see a partial file. A file records its format version, its
 * slot and its identity scope beside the ring and its fetch time; a missing
 * file is "nothing stored", and a corrupt, truncated, foreign or other-slot
 * file is a `KeyStoreError` (a client logs it, starts without it, and the
 * next good refresh overwrites it).
 *
 * The file holds key secrets in the clear, readable by its owner only: keep
 * it on a private volume.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Bidstream, Crypto } from "effect-uid2"
 * import * as FileKeyStore from "effect-uid2/adapters/file"
 *
 * const Dsp = Bidstream.layerWith({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? "")
 * }).pipe(Layer.provide(Layer.mergeAll(
 *   FileKeyStore.layer({ directory: "/var/lib/my-bidder/uid2" }), // or FileKeyStore.layerConfig(): UID2_KEY_STORE_DIRECTORY
 *   Crypto.layerNode,
 *   NodeHttpClient.layerUndici
 * )))
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/adapters/file
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { IdentityScope } from "../../src/Identity.js"
import * as StoredRing from "../../src/internal/storedRing.js"
import * as KeyStore from "../../src/KeyStore.js"
import { atomicWrite } from "./atomicWrite.js"
import { type Location, SLOT_PLACEHOLDER, slotPath } from "./slotPath.js"

/**
 * Options of {@link make}: exactly one of `directory` and `path`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Keep each slot's ring in `<directory>/<slot>.json` (the directory is created, mode 0700). */
  readonly directory?: string | undefined
  /** A path template holding `{slot}`, e.g. `/var/lib/app/uid2-{slot}.json`. */
  readonly path?: string | undefined
  /** Accept only rings of this identity scope (default: either). */
  readonly identityScope?: IdentityScope | undefined
  /** The largest file read, in bytes (default 8 MiB); a larger one is a `KeyStoreError`. */
  readonly maxFileBytes?: number | undefined
  /** Bounds of every load and save (see `KeyStore.make`). */
  readonly store?: KeyStore.MakeOptions | undefined
}

/**
 * The options name no file location, or both, or a path template without
 * `{slot}`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidFileStoreOptions extends Data.TaggedError("InvalidFileStoreOptions")<{
  readonly detail: string
}> {
  override get message() {
    return `file key store options are invalid: ${this.detail}`
  }
}

const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024

const locationOf = (options: Options): Either.Either<Location, InvalidFileStoreOptions> => {
  const { directory, path } = options
  if (directory !== undefined && path !== undefined) {
    return Either.left(new InvalidFileStoreOptions({ detail: "give either directory or path, not both" }))
  }
  if (directory !== undefined && directory !== "") return Either.right({ _tag: "Directory", directory })
  if (path !== undefined && path !== "") {
    return path.includes(SLOT_PLACEHOLDER)
      ? Either.right({ _tag: "Template", template: path })
      : Either.left(new InvalidFileStoreOptions({ detail: `path must hold ${SLOT_PLACEHOLDER}, one file per slot` }))
  }
  return Either.left(new InvalidFileStoreOptions({ detail: "give a directory or a path template" }))
}

// A file-system failure, said without the file's content (the error names only the call and the path).
const describe = (error: PlatformError.PlatformError): string =>
  error._tag === "SystemError"
    ? `${error.reason} in ${error.method}${
      error.pathOrDescriptor === undefined ? "" : ` (${String(error.pathOrDescriptor)})`
    }`
    : `bad argument to ${error.method}`

/**
 * The store's persistence on the `FileSystem` in context, for `KeyStore.make`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePersistence = (
  options: Options
): Effect.Effect<KeyStore.Persistence, InvalidFileStoreOptions, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const location = yield* locationOf(options)
    const fs = yield* FileSystem.FileSystem
    const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
    const expected = (slot: string) => ({ slot, identityScope: options.identityScope })

    const pathOf = (operation: "load" | "save", slot: string) => {
      const path = slotPath(location, slot)
      return path === undefined
        ? Effect.fail(
          new KeyStore.KeyStoreError({ operation, slot, detail: "the slot name is not safe as a file name" })
        )
        : Effect.succeed(path)
    }

    const readText = (slot: string, path: string): Effect.Effect<Option.Option<string>, KeyStore.KeyStoreError> => {
      const failed = (detail: string) => new KeyStore.KeyStoreError({ operation: "load", slot, detail })
      // Missing means nothing stored yet; any other file-system failure is the store's.
      const platform = (error: PlatformError.PlatformError) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? Effect.succeedNone
          : Effect.fail(failed(describe(error)))
      return fs.stat(path).pipe(
        Effect.flatMap((
          info
        ): Effect.Effect<Option.Option<string>, PlatformError.PlatformError | KeyStore.KeyStoreError> =>
          info.type !== "File"
            ? Effect.fail(failed(`${path} is not a regular file`))
            : Number(info.size) > maxBytes
            ? Effect.fail(failed(`${path} is larger than ${maxBytes} bytes`))
            : Effect.asSome(fs.readFileString(path))
        ),
        Effect.catchIf((error): error is PlatformError.PlatformError => error._tag !== "KeyStoreError", platform)
      )
    }

    const load = (slot: string): Effect.Effect<Option.Option<KeyStore.StoredRing>, KeyStore.KeyStoreError> =>
      Effect.flatMap(pathOf("load", slot), (path) =>
        Effect.flatMap(readText(slot, path), (text) =>
          Option.match(text, {
            onNone: () => Effect.succeedNone,
            onSome: (content) =>
              Either.match(StoredRing.decode(content, expected(slot)), {
                onLeft: (detail) =>
                  Effect.fail(new KeyStore.KeyStoreError({ operation: "load", slot, detail: `${path}: ${detail}` })),
                onRight: Effect.succeedSome
              })
          })))

    const save = (slot: string, stored: KeyStore.StoredRing): Effect.Effect<void, KeyStore.KeyStoreError> =>
      Effect.gen(function*() {
        const path = yield* pathOf("save", slot)
        // Newer wins; an unreadable file is replaced by this good ring.
        const current = yield* Effect.option(load(slot))
        if (
          Option.isSome(current) && Option.isSome(current.value) && current.value.value.fetchedAt > stored.fetchedAt
        ) {
          return
        }
        yield* atomicWrite(path, StoredRing.encode(slot, stored)).pipe(
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.mapError((error) => new KeyStore.KeyStoreError({ operation: "save", slot, detail: describe(error) }))
        )
      })

    return { name: "file", load, save }
  })

/**
 * The file store on the `FileSystem` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<KeyStore.KeyStoreShape, InvalidFileStoreOptions, FileSystem.FileSystem> =>
  Effect.map(makePersistence(options), (persistence) => KeyStore.make(persistence, options.store))

/**
 * The file store on Node's file system (`@effect/platform-node`, loaded when
 * the layer is built).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<KeyStore.KeyStore, InvalidFileStoreOptions> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@effect/platform-node/NodeFileSystem")),
      (NodeFileSystem) => layerWith(options).pipe(Layer.provide(NodeFileSystem.layer))
    )
  )

/**
 * The file store on the `FileSystem` the app provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<KeyStore.KeyStore, InvalidFileStoreOptions, FileSystem.FileSystem> =>
  Layer.effect(KeyStore.KeyStore, make(options))

/**
 * The options from `UID2_KEY_STORE_DIRECTORY` (a directory of `<slot>.json` files).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.map(
  Config.string("UID2_KEY_STORE_DIRECTORY"),
  (directory): Options => ({ directory })
)

/**
 * {@link layer} configured from `config` (default {@link config}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<KeyStore.KeyStore, InvalidFileStoreOptions | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(options, layer))
