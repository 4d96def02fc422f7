// The one client shape: clients merged into one app each own their keys, and start-up says
// what is wrong. Real sockets to TestOperator on 127.0.0.1 (it.scopedLive).
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { createServer, type Server, type Socket } from "node:net"
import * as Bidstream from "../src/Bidstream.js"
import * as Publisher from "../src/Publisher.js"
import * as Sharing from "../src/Sharing.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"

const DSP = TestOperator.DSP_CLIENT
const SHARER = TestOperator.SHARER_CLIENT
const PUBLISHER = TestOperator.PUBLISHER_CLIENT
const fastRetry = { times: 1, base: Duration.millis(5) }

const options = (baseUrl: string, client: TestOperator.ClientCredentials) => ({
  baseUrl,
  apiKey: Redacted.make(client.apiKey),
  secretKey: Redacted.make(client.secret),
  retry: fastRetry,
  timeout: Duration.seconds(2)
})

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

const expectNoSecrets = (error: unknown, ...secrets: Array<string>) => {
  const texts = [String(error), (error as Error).message, JSON.stringify(error)]
  for (const secret of secrets) for (const text of texts) expect(text).not.toContain(secret)
}

// A TCP server that accepts connections and never answers: a stalled operator.
const stalledServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly sockets: Set<Socket>; readonly url: string }>((resume) => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ server, sockets, url: `http://127.0.0.1:${port}` }))
    })
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

// A port nothing listens on: bind one, then close it.
const deadPort = Effect.async<string>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
  return undefined
})

describe("clients merged into one app", () => {
  it.scopedLive("bidstream, sharing and publisher each own their keys, refresher and status", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const app = Layer.mergeAll(
        Bidstream.layer(options(op.baseUrl, DSP)),
        Sharing.layer(options(op.baseUrl, SHARER)),
        Publisher.layer(options(op.baseUrl, PUBLISHER))
      )
      const context = yield* Layer.build(app)
      const bidstream = Context.get(context, Bidstream.BidstreamClient)
      const sharing = Context.get(context, Sharing.SharingClient)
      const publisher = Context.get(context, Publisher.PublisherClient)

      // Each keyed client fetched its own endpoint once at start-up.
      expect(yield* op.requestCount("/v2/key/bidstream")).toBe(1)
      expect(yield* op.requestCount("/v2/key/sharing")).toBe(1)

      // The bidstream client decrypts with the bidstream ring: a 30-day sharing token is too long-lived for it.
      const issued = yield* op.issueToken({ email: "merged@example.com" })
      const sharingToken = yield* sharing.encrypt(issued.rawUid)
      expect((yield* sharing.decrypt(sharingToken)).uid).toBe(issued.rawUid)
      expect((yield* Effect.flip(bidstream.decrypt(sharingToken)))._tag).toBe("InvalidTokenLifetime")
      expect((yield* bidstream.decrypt(issued.advertisingToken, "example.com")).uid).toBe(issued.rawUid)

      // Each refresh reaches its own endpoint; each status is its own.
      yield* bidstream.refresh
      yield* bidstream.refresh
      yield* sharing.refresh
      expect(yield* op.requestCount("/v2/key/bidstream")).toBe(3)
      expect(yield* op.requestCount("/v2/key/sharing")).toBe(2)
      const [bidStatus, shareStatus] = [yield* bidstream.status, yield* sharing.status]
      expect(bidStatus).toMatchObject({ ready: true, source: "operator" })
      expect(shareStatus).toMatchObject({ ready: true, source: "operator" })
      const bidRing = yield* op.keyRing("bidstream", DSP.apiKey)
      const shareRing = yield* op.keyRing("sharing", SHARER.apiKey)
      expect(bidStatus.keyCount).toBe(bidRing.keys.length)
      expect(shareStatus.keyCount).toBe(shareRing.keys.length)

      // The publisher works beside them.
      const input = TokenGenerateInput.fromEmail("merged@example.com")
      if (input._tag === "Left") throw input.left
      expect((yield* publisher.generateToken(input.right))._tag).toBe("Success")
    })))

  it.scopedLive("keyed clients on different operators never see each other's ring", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const other = TestOperator.make({ identityScope: "EUID" })
      const euid = yield* other
      const context = yield* Layer.build(Layer.merge(
        Bidstream.layer(options(op.baseUrl, DSP)),
        Sharing.layer(options(euid.baseUrl, SHARER))
      ))
      const uid2 = yield* op.issueToken({ email: "a@example.com" })
      expect((yield* Context.get(context, Bidstream.BidstreamClient).decrypt(uid2.advertisingToken, "example.com")).uid)
        .toBe(uid2.rawUid)
      // The EUID sharer's ring is not the UID2 ring: the UID2 token is out of its scope.
      expect((yield* Effect.flip(Context.get(context, Sharing.SharingClient).decrypt(uid2.advertisingToken)))._tag)
        .toBe("InvalidIdentityScope")
    })))
})

describe("start-up says what is wrong", () => {
  it.scopedLive("a wrong API key fails the layer with KeysUnavailable naming the 401, no secret in it", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const wrongKey = "UID2-C-L-1002-not-a-real-key"
      const error = yield* Effect.flip(
        Layer.build(Bidstream.layer({ ...options(op.baseUrl, DSP), apiKey: Redacted.make(wrongKey) }))
      )
      expect(error._tag).toBe("KeysUnavailable")
      if (error._tag !== "KeysUnavailable") return
      expect(error.reason).toBe("Rejected")
      expect(error.cause).toMatchObject({ _tag: "OperatorRejected", httpStatus: 401 })
      expect(error.message).toContain("check the API key")
      expectNoSecrets(error, wrongKey, DSP.secret)
      // Rejected once, not retried forever.
      expect(yield* op.requestCount("/v2/key/bidstream")).toBe(1)
    })))

  it.scopedLive("a wrong client secret fails the layer and names the secret, without it", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const otherSecret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
      const error = yield* Effect.flip(
        Layer.build(Sharing.layer({ ...options(op.baseUrl, SHARER), secretKey: Redacted.make(otherSecret) }))
      )
      expect(error).toMatchObject({ _tag: "KeysUnavailable", reason: "Rejected" })
      expect(error.message.toLowerCase()).toContain("encryption key")
      expectNoSecrets(error, otherSecret, SHARER.apiKey, SHARER.secret)
    })))

  it.scopedLive("an unknown path (wrong base URL) fails the layer with the 404 and a hint", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const error = yield* Effect.flip(Layer.build(Bidstream.layer(options(`${op.baseUrl}/wrong/prefix`, DSP))))
      expect(error).toMatchObject({ _tag: "KeysUnavailable", reason: "Rejected" })
      expect(error.message).toContain("404")
      expect(error.message).toContain("check the base URL")
    })))

  it.scopedLive("a dead port is retried until the start-up timeout, then fails with the last failure", () =>
    quiet(Effect.gen(function*() {
      const url = yield* deadPort
      const error = yield* Effect.flip(Layer.build(Bidstream.layer({
        ...options(url, DSP),
        startup: { timeout: "1 second" },
        refresh: { retryBase: "100 millis" }
      })))
      expect(error).toMatchObject({ _tag: "KeysUnavailable", reason: "Timeout" })
      expect(error.message).toContain("operator unreachable")
    })))

  it.scopedLive("a stalled operator: start without keys when told to; decrypts say why", () =>
    quiet(Effect.gen(function*() {
      const { url } = yield* stalledServer
      const context = yield* Layer.build(Bidstream.layer({
        ...options(url, DSP),
        timeout: Duration.millis(200),
        startup: { timeout: "1 second", failOnTimeout: false }
      }))
      const client = Context.get(context, Bidstream.BidstreamClient)
      const result = client.decryptSync("A4AAAAAAAAAAAAAAAAAAAAAAAAAAAA")
      expect(result._tag).toBe("NotInitialized")
      if (result._tag === "NotInitialized") expect(result.lastFailure).toContain("timed out")
      expect((yield* client.status).ready).toBe(false)
      expect((yield* Effect.flip(client.awaitReady("300 millis")))._tag).toBe("NotReady")
    })))
})
