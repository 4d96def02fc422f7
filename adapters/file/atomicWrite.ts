import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import { basename, dirname, join } from "node:path"

/** Owner read and write only: the file holds key secrets. */
export const FILE_MODE = 0o600
/** Owner only, for a directory the store creates. */
export const DIRECTORY_MODE = 0o700

/**
 * Replaces `path` with `text` so that a reader sees the old file or the new
 * one, never a part: a temp file in the same directory, created exclusively
 * with mode 0600, written and fsynced, renamed over `path`, and the directory
 * fsynced so the rename survives a crash. The temp file is removed when any
 * step fails.
 */
export const atomicWrite = (
  path: string,
  text: string
): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = dirname(path)
    yield* fs.makeDirectory(directory, { recursive: true, mode: DIRECTORY_MODE })
    // Unique per process and call: concurrent writers never share a temp file, and `wx` proves it.
    const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`)
    const bytes = new TextEncoder().encode(text)
    yield* Effect.scoped(
      Effect.gen(function*() {
        const file = yield* fs.open(temp, { flag: "wx", mode: FILE_MODE })
        yield* file.writeAll(bytes)
        yield* file.sync
      })
    ).pipe(
      Effect.zipRight(fs.rename(temp, path)),
      Effect.tapError(() => Effect.ignore(fs.remove(temp)))
    )
    yield* syncDirectory(fs, directory)
  })

// Some platforms cannot open or fsync a directory (Windows); the rename is done by then, so that is not a failure.
const syncDirectory = (fs: FileSystem.FileSystem, directory: string): Effect.Effect<void> =>
  Effect.ignore(Effect.scoped(Effect.flatMap(fs.open(directory, { flag: "r" }), (handle) => handle.sync)))
