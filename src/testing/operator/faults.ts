/**
 * Scripted faults of the test operator (latency, failures, malformed bodies,
 * wrong nonces, dropped connections) and its request log. Private to the
 * test kit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { FailOptions, FaultOptions, RequestLogEntry } from "../TestOperator.js"
import { bearer } from "./clients.js"
import { millis } from "./config.js"
import { type CoreOutcome, type CoreRequest, json } from "./protocol.js"

/** A scripted fault, taken by the next `remaining` matching requests. */
interface Fault {
  readonly kind: "fail" | "malformed" | "wrongNonce" | "drop"
  remaining: number
  readonly path: string | undefined
  readonly status: number
  readonly retryAfterSeconds: number | undefined
}

/** A {@link RequestLogEntry} while its request is handled. */
export interface MutableLogEntry {
  readonly method: string
  readonly path: string
  readonly apiKey: string | undefined
  readonly atMs: number
  status: number | "dropped" | undefined
  fault: RequestLogEntry["fault"]
}

const MALFORMED = "%%% this is not a UID2 envelope %%%"

/** The fault queue, latency and request log of one operator. */
export const makeFaults = () => {
  let latencyMs = 0
  let faults: Array<Fault> = []
  let log: Array<MutableLogEntry> = []

  const takeFault = (kinds: ReadonlyArray<Fault["kind"]>, path: string): Fault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && kinds.includes(f.kind) && (f.path === undefined || f.path === path))
    if (fault === undefined) return undefined
    fault.remaining--
    faults = faults.filter((f) => f.remaining > 0)
    return fault
  }

  const failure = (fault: Fault): CoreOutcome => {
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined
      ? {}
      : { "retry-after": String(fault.retryAfterSeconds) }
    if (fault.status === 429) return { _tag: "Response", status: 429, headers, body: "" }
    const status = fault.status === 401 ? "unauthorized" : fault.status >= 500 ? "unknown" : "client_error"
    return json(fault.status, status === "unauthorized" ? { status } : { status, message: "scripted failure" }, headers)
  }

  /**
   * Logs a request, applies the oldest matching drop / fail / malformed
   * fault or else `route`, then waits out the latency.
   */
  const run = (
    req: CoreRequest,
    nowMs: number,
    route: (req: CoreRequest, nowMs: number, entry: MutableLogEntry) => CoreOutcome
  ): Effect.Effect<CoreOutcome> => {
    const entry: MutableLogEntry = {
      method: req.method,
      path: req.path,
      apiKey: bearer(req.headers),
      atMs: nowMs,
      status: undefined,
      fault: undefined
    }
    log.push(entry)
    const fault = takeFault(["drop", "fail", "malformed"], req.path)
    let outcome: CoreOutcome
    if (fault !== undefined) {
      entry.fault = fault.kind
      outcome = fault.kind === "drop"
        ? { _tag: "Drop" }
        : fault.kind === "fail"
        ? failure(fault)
        : { _tag: "Response", status: 200, headers: { "content-type": "text/plain" }, body: MALFORMED }
    } else {
      try {
        outcome = route(req, nowMs, entry)
      } catch {
        outcome = json(500, { status: "unknown", message: "internal error in the test operator" })
      }
    }
    entry.status = outcome._tag === "Drop" ? "dropped" : outcome.status
    return latencyMs > 0 ? Effect.as(Effect.sleep(Duration.millis(latencyMs)), outcome) : Effect.succeed(outcome)
  }

  const addFault = (kind: Fault["kind"], n: number, options: FailOptions | undefined, status = 200) =>
    Effect.sync(() => {
      if (n > 0) {
        faults.push({
          kind,
          remaining: Math.floor(n),
          path: options?.path,
          status,
          retryAfterSeconds: options?.retryAfterSeconds
        })
      }
    })

  return {
    takeFault,
    run,
    scripting: {
      setLatency: (duration: Duration.DurationInput) => Effect.sync(() => void (latencyMs = millis(duration))),
      failNext: (n: number, status: number, options?: FailOptions) => addFault("fail", n, options, status),
      sendMalformedBodyNext: (n: number, options?: FaultOptions) => addFault("malformed", n, options),
      wrongNonceNext: (n: number, options?: FaultOptions) => addFault("wrongNonce", n, options),
      dropConnectionNext: (n: number, options?: FaultOptions) => addFault("drop", n, options),
      clearFaults: () =>
        Effect.sync(() => {
          faults = []
          latencyMs = 0
        }),
      requests: Effect.sync((): ReadonlyArray<RequestLogEntry> => log.map((e) => ({ ...e }))),
      requestCount: (path?: string) =>
        Effect.sync(() => path === undefined ? log.length : log.filter((e) => e.path === path).length),
      clearRequests: () => Effect.sync(() => void (log = []))
    }
  }
}

/** What {@link makeFaults} returns. */
export type Faults = ReturnType<typeof makeFaults>
