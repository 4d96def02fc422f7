/**
 * The test operator over HTTP: the `HttpApp` that runs its handler (and
 * drops connections on request), and an `HttpClient` that reaches the app
 * without sockets. Private to the test kit.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { IncomingMessage } from "node:http"
import { type CoreOutcome, type CoreRequest, Paths } from "./protocol.js"

/** Thrown (as a defect) by the app to make the in-process client fail like a dropped socket. */
const DROPPED = Symbol.for("effect-uid2/testing/TestOperator/dropped")

/** An outcome as a server response (an empty non-200 body is sent as no body). */
const toServerResponse = (
  outcome: Extract<CoreOutcome, { _tag: "Response" }>
): HttpServerResponse.HttpServerResponse => {
  const { "content-type": contentType, ...headers } = outcome.headers
  const options = { status: outcome.status, headers, ...(contentType === undefined ? {} : { contentType }) }
  return typeof outcome.body === "string"
    ? outcome.body.length === 0 && outcome.status !== 200
      ? HttpServerResponse.empty({ status: outcome.status, headers })
      : HttpServerResponse.text(outcome.body, options)
    : HttpServerResponse.uint8Array(outcome.body, options)
}

/** The operator as an `HttpApp`: reads each request whole and hands it to `handle`. */
export const makeApp = (handle: (req: CoreRequest) => Effect.Effect<CoreOutcome>): HttpApp.Default => {
  const serve = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* Effect.either(request.arrayBuffer)
    if (Either.isLeft(body)) {
      return HttpServerResponse.unsafeJson({ status: "client_error", message: "Invalid body: unreadable" }, {
        status: 400
      })
    }
    const path = new URL(request.url, "http://localhost").pathname
    const outcome = yield* handle({
      method: request.method,
      path,
      headers: request.headers,
      body: new Uint8Array(body.right)
    })
    if (outcome._tag === "Drop") {
      const source = request.source
      if (source instanceof IncomingMessage) {
        source.socket.destroy()
        // The server interrupts this fiber when it sees the socket close.
        return yield* Effect.never
      }
      return yield* Effect.die(DROPPED)
    }
    return toServerResponse(outcome)
  })
  const router = Object.values(Paths).reduce(
    (r: HttpRouter.HttpRouter, path) => HttpRouter.post(r, path, serve),
    HttpRouter.empty
  ).pipe(HttpRouter.all("*", serve))
  return Effect.catchTag(
    router,
    "RouteNotFound",
    () => Effect.succeed(HttpServerResponse.unsafeJson({ status: "unknown", message: "Not found" }, { status: 404 }))
  )
}

/** The body of a client request as something a web `Request` accepts. */
const bodyOf = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Uint8Array | string | FormData | undefined, HttpClientError.RequestError> => {
  const body: HttpBody.HttpBody = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(undefined)
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
        ? Effect.succeed(body.body)
        : Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Encode", description: "unsupported raw body" })
        )
    case "FormData":
      return Effect.succeed(body.formData)
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => {
          const parts = Chunk.toReadonlyArray(chunks)
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
          let offset = 0
          for (const p of parts) {
            out.set(p, offset)
            offset += p.length
          }
          return out
        }),
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause }))
      )
  }
}

/** An `HttpClient` that runs `app` in the calling fiber; a dropped connection fails with a `"Transport"` `RequestError`. */
export const inProcessClient = (app: HttpApp.Default): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = yield* bodyOf(request)
      const headers = new Headers()
      for (const [name, value] of Object.entries(request.headers)) {
        if (name !== "content-length") headers.set(name, value)
      }
      const hasBody = body !== undefined && request.method !== "GET" && request.method !== "HEAD"
      const web = new Request(url, { method: request.method, headers, ...(hasBody ? { body } : {}) })
      const response = yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web)),
        Effect.catchAllDefect((defect) =>
          defect === DROPPED
            ? Effect.fail(
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                description: "connection dropped by the test operator"
              })
            )
            : Effect.die(defect)
        )
      )
      return HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(response))
    })
  )
