import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Bidstream from "../../../src/Bidstream.js"
import * as Crypto from "../../../src/Crypto.js"
import * as StoredRing from "../../../src/internal/storedRing.js"
import { bidstreamRing, sharingRing } from "../../../src/testing/Builders.js"
import * as TestOperator from "../../../src/testing/TestOperator.js"
import { spawnTsx } from "../../../test/support/children.js"
import * as FileKeyStore from "../index.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const here = dirname(fileURLToPath(import.meta.url))

// A fresh directory per test, removed when the test's scope closes.
const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "uid2-file-store-"))),
  (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
)

const storeIn = (directory: string) => FileKeyStore.make({ directory }).pipe(Effect.provide(NodeFileSystem.layer))

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

describe("file key store", () => {
  it.scoped("saves one file per slot with mode 0600 and reads every field back", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const store = yield* storeIn(join(directory, "nested"))
      expect(yield* store.load("bidstream")).toEqual(Option.none())
      const stored = { ring: bidstreamRing(NOW), fetchedAt: NOW }
      yield* store.save("bidstream", stored)
      const file = join(directory, "nested", "bidstream.json")
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const loaded = Option.getOrThrow(yield* store.load("bidstream"))
      expect(loaded.fetchedAt).toBe(NOW)
      expect(loaded.ring).toEqual(stored.ring)
      expect(yield* store.load("sharing")).toEqual(Option.none())
      // No temp file is left behind.
      expect(readdirSync(join(directory, "nested"))).toEqual(["bidstream.json"])
    }))

  it.scoped("a path template names each slot's file; options without a usable location fail typed", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const template = join(directory, "uid2-{slot}.keys")
      const store = yield* FileKeyStore.make({ path: template }).pipe(Effect.provide(NodeFileSystem.layer))
      yield* store.save("sharing", { ring: sharingRing(NOW), fetchedAt: NOW })
      expect(readdirSync(directory)).toEqual(["uid2-sharing.keys"])
      for (const options of [{}, { path: join(directory, "fixed.json") }, { directory, path: template }]) {
        const error = yield* Effect.flip(FileKeyStore.make(options).pipe(Effect.provide(NodeFileSystem.layer)))
        expect(error._tag).toBe("InvalidFileStoreOptions")
      }
      // A slot name that could leave the directory is refused, for load and save alike.
      const bad = yield* Effect.flip(store.save("../escape", { ring: sharingRing(NOW), fetchedAt: NOW }))
      expect(bad).toMatchObject({ _tag: "KeyStoreError", operation: "save" })
      expect((yield* Effect.flip(store.load(".hidden")))._tag).toBe("KeyStoreError")
    }))

  it.scoped("corrupt, truncated, foreign, other-slot and other-scope files are typed errors; a good save replaces them", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const uid2Only = yield* FileKeyStore.make({ directory, identityScope: "UID2" }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const file = join(directory, "bidstream.json")
      const good = StoredRing.encode("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      const secret = Redacted.value(bidstreamRing(NOW).keys[0]!.secret)
      const cases: Array<[string, string]> = [
        ["not JSON", "\u0000\u0001garbage"],
        ["truncated", good.slice(0, Math.floor(good.length / 2))],
        ["foreign", JSON.stringify({ hello: "world" })],
        ["other slot", StoredRing.encode("sharing", { ring: bidstreamRing(NOW), fetchedAt: NOW })],
        [
          "other scope",
          StoredRing.encode("bidstream", { ring: bidstreamRing(NOW, { identityScope: "EUID" }), fetchedAt: NOW })
        ],
        ["future version", good.replace(`"version":1`, `"version":7`)],
        ["bad fetch time", good.replace(`"fetchedAt":${NOW}`, `"fetchedAt":"yesterday"`)],
        ["bad ring", good.replace(`"keys":[`, `"keys":[{"id":"x"},`)]
      ]
      for (const [name, content] of cases) {
        writeFileSync(file, content)
        const error = yield* Effect.flip(uid2Only.load("bidstream"))
        expect(error, name).toMatchObject({ _tag: "KeyStoreError", operation: "load", slot: "bidstream" })
        expect(error.message, name).not.toContain(Buffer.from(secret).toString("base64"))
      }
      yield* uid2Only.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW - 1 })
      expect(Option.getOrThrow(yield* uid2Only.load("bidstream")).fetchedAt).toBe(NOW - 1)
    }))

  it.scoped("newer wins: an older save leaves the stored ring in place", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const store = yield* storeIn(directory)
      yield* store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      yield* store.save("bidstream", { ring: bidstreamRing(NOW - 5), fetchedAt: NOW - 5 })
      expect(Option.getOrThrow(yield* store.load("bidstream")).fetchedAt).toBe(NOW)
    }))

  it.scopedLive("warm start: with the operator down, a client becomes ready from the file and reports its age", () =>
    quiet(Effect.gen(function*() {
      const directory = yield* tempDirectory
      const storeLayer = FileKeyStore.layer({ directory })
      const DSP = TestOperator.DSP_CLIENT
      const clientLayer = (baseUrl: string) =>
        Bidstream.layerWith({
          baseUrl,
          apiKey: Redacted.make(DSP.apiKey),
          secretKey: Redacted.make(DSP.secret),
          retry: { times: 0 },
          timeout: "1 second",
          startup: { timeout: "1 second" }
        }).pipe(Layer.provide(Layer.mergeAll(storeLayer, Crypto.layerNode, NodeHttpClient.layerUndici)))

      // A first run against a live operator saves its ring to the file.
      const operatorScope = yield* Scope.make()
      const op = yield* Scope.extend(TestOperator.make(), operatorScope)
      const issued = yield* op.issueToken({ email: "user@example.com" })
      const baseUrl = op.baseUrl
      yield* Effect.scoped(Effect.flatMap(Layer.build(clientLayer(baseUrl)), () => Effect.void))
      yield* Scope.close(operatorScope, Exit.void)

      // The operator is gone: a new client starts from the file alone.
      const context = yield* Layer.build(clientLayer(baseUrl))
      const client = Context.get(context, Bidstream.BidstreamClient)
      const decrypted = yield* client.decrypt(issued.advertisingToken, null)
      expect(decrypted.uid).toBe(issued.rawUid)
      const status = yield* client.status
      expect(status).toMatchObject({ ready: true, source: "store" })
      expect(status.ringAgeMs).toBeGreaterThanOrEqual(0)
      expect(status.ringFetchedAt).toBeLessThanOrEqual(Date.now())
    })))

  it.scopedLive("a corrupt file is skipped at start-up and overwritten by the first good refresh", () =>
    quiet(Effect.gen(function*() {
      const directory = yield* tempDirectory
      writeFileSync(join(directory, "bidstream.json"), "{\"format\":\"effect-uid2/key-ring\",\"vers")
      const op = yield* TestOperator.make()
      const DSP = TestOperator.DSP_CLIENT
      const context = yield* Layer.build(
        Bidstream.layerWith({
          baseUrl: op.baseUrl,
          apiKey: Redacted.make(DSP.apiKey),
          secretKey: Redacted.make(DSP.secret)
        })
          .pipe(
            Layer.provide(
              Layer.mergeAll(FileKeyStore.layer({ directory }), Crypto.layerNode, NodeHttpClient.layerUndici)
            )
          )
      )
      expect(yield* Effect.flatMap(Bidstream.BidstreamClient, (c) => c.status).pipe(Effect.provide(context)))
        .toMatchObject({ ready: true, source: "operator" })
      const text = readFileSync(join(directory, "bidstream.json"), "utf8")
      expect(Either.isRight(StoredRing.decode(text, { slot: "bidstream" }))).toBe(true)
    })))

  it.scopedLive("several processes writing at once never leave a partial file", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const store = yield* storeIn(directory)
      const writers = yield* Effect.forEach(
        [1, 2, 3],
        (id) => spawnTsx(join(here, "fixtures", "writer.ts"), [directory, String(id), "1500"]),
        { concurrency: "unbounded" }
      )
      yield* Effect.forEach(writers, (w) => w.waitForLine((line) => line === "ready"), { concurrency: "unbounded" })
      // Read and validate until every writer is done: each read is the whole of one save.
      let reads = 0
      let found = 0
      const allDone = Effect.forEach(writers, (w) => w.waitForLine((line) => line.startsWith("done")))
      const reader = Effect.gen(function*() {
        while (true) {
          const loaded = yield* store.load("bidstream")
          reads++
          if (Option.isSome(loaded)) found++
          yield* Effect.yieldNow()
        }
      })
      yield* Effect.raceFirst(allDone, reader).pipe(Effect.timeout(Duration.seconds(20)))
      const saves = writers.map((w) => Number(w.lines.find((l) => l.startsWith("done"))!.slice(5)))
      console.log(`file store: ${saves.join("+")} saves by 3 processes, ${reads} reads, all whole`)
      expect(found).toBeGreaterThan(0)
      expect(saves.every((n) => n > 0)).toBe(true)
      // Every temp file was renamed into place.
      expect(readdirSync(directory)).toEqual(["bidstream.json"])
      expect(statSync(join(directory, "bidstream.json")).mode & 0o777).toBe(0o600)
    }), 40_000)
})
