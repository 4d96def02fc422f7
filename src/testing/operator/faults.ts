/**
 * Scripted faults of the test operator (latency, failures, malformed bodies,
 * wrong nonces, dropped connections) and its request log. Private to the
 * test kit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { FailOptions, FaultOptions, RequestLogEntry, RequestRule } from "../TestOperator.js"
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

/** A scripted {@link RequestRule}, taken by the next `remaining` requests it matches. */
interface Rule {
  readonly path: string | undefined
  readonly when: ((payload: unknown) => boolean) | undefined
  remaining: number
  readonly status: number | undefined
  readonly retryAfterSeconds: number | undefined
  readonly stallMs: number
}

/** A {@link RequestLogEntry} while its request is handled. */
export interface MutableLogEntry {
  readonly method: string
  readonly path: string
  readonly apiKey: string | undefined
  readonly atMs: number
  status: number | "dropped" | undefined
  fault: RequestLogEntry["fault"]
  /** Extra time to hold the answer (a scripted stall). */
  stallMs: number
}

/** Requests being handled now, and the most seen at once since the last reset. */
interface InFlight {
  current: number
  peak: number
}

const MALFORMED = "%%% this is not a UID2 envelope %%%"

/** The fault queue, latency and request log of one operator. */
export const makeFaults = () => {
  let latencyMs = 0
  let faults: Array<Fault> = []
  let log: Array<MutableLogEntry> = []

  const takeFault = (kinds: ReadonlyArray<Fault["kind"]>, path: string): Fault | undefined => {
    const fault = faults.find((f) =>
      f.remaining > 0 && kinds.includes(f.kind) && (f.path === undefined || f.path === path)
    )
    if (fault === undefined) return undefined
    fault.remaining--
    faults = faults.filter((f) => f.remaining > 0)
    return fault
  }

  const failure = (fault: { readonly status: number; readonly retryAfterSeconds: number | undefined }): CoreOutcome => {
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined
      ? {}
      : { "retry-after": String(fault.retryAfterSeconds) }
    if (fault.status === 429) return { _tag: "Response", status: 429, headers, body: "" }
    const status = fault.status === 401 ? "unauthorized" : fault.status >= 500 ? "unknown" : "client_error"
    return json(fault.status, status === "unauthorized" ? { status } : { status, message: "scripted failure" }, headers)
  }

  let rules: Array<Rule> = []

  /**
   * The outcome of the oldest scripted rule matching this decrypted request:
   * a failure answer, or `undefined` (a stall only marks `entry`). A `when`
   * that throws does not match.
   */
  const applyRule = (path: string, payload: unknown, entry: MutableLogEntry): CoreOutcome | undefined => {
    const matches = (r: Rule) => {
      if (r.remaining <= 0 || (r.path !== undefined && r.path !== path)) return false
      try {
        return r.when === undefined || r.when(payload)
      } catch {
        return false
      }
    }
    const rule = rules.find(matches)
    if (rule === undefined) return undefined
    rule.remaining--
    rules = rules.filter((r) => r.remaining > 0)
    entry.fault = "scripted"
    entry.stallMs = rule.stallMs
    return rule.status === undefined
      ? undefined
      : failure({ status: rule.status, retryAfterSeconds: rule.retryAfterSeconds })
  }

  const inFlight = new Map<string | undefined, InFlight>()
  const counterOf = (path: string | undefined): InFlight => {
    let counter = inFlight.get(path)
    if (counter === undefined) {
      counter = { current: 0, peak: 0 }
      inFlight.set(path, counter)
    }
    return counter
  }
  const begin = (path: string) => {
    for (const counter of [counterOf(undefined), counterOf(path)]) {
      counter.current++
      counter.peak = Math.max(counter.peak, counter.current)
    }
  }
  const end = (path: string) => {
    for (const counter of [counterOf(undefined), counterOf(path)]) counter.current--
  }

  /**
   * Logs a request, applies the oldest matching drop / fail / malformed
   * fault or else `route`, then waits out the latency (and a scripted stall).
   * The request counts as in flight until its answer is ready to send.
   */
  const run = (
    req: CoreRequest,
    nowMs: number,
    route: (req: CoreRequest, nowMs: number, entry: MutableLogEntry) => CoreOutcome
  ): Effect.Effect<CoreOutcome> =>
    Effect.acquireUseRelease(
      Effect.sync(() => begin(req.path)),
      () => Effect.suspend(() => answer(req, nowMs, route)),
      () => Effect.sync(() => end(req.path))
    )

  const answer = (
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
      fault: undefined,
      stallMs: 0
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
    const delayMs = latencyMs + entry.stallMs
    return delayMs > 0 ? Effect.as(Effect.sleep(Duration.millis(delayMs)), outcome) : Effect.succeed(outcome)
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
    applyRule,
    run,
    scripting: {
      setLatency: (duration: Duration.DurationInput) => Effect.sync(() => void (latencyMs = millis(duration))),
      failNext: (n: number, status: number, options?: FailOptions) => addFault("fail", n, options, status),
      sendMalformedBodyNext: (n: number, options?: FaultOptions) => addFault("malformed", n, options),
      wrongNonceNext: (n: number, options?: FaultOptions) => addFault("wrongNonce", n, options),
      dropConnectionNext: (n: number, options?: FaultOptions) => addFault("drop", n, options),
      scriptRequests: (rule: RequestRule) =>
        Effect.sync(() => {
          const times = rule.times ?? 1
          if (!(times > 0)) return
          rules.push({
            path: rule.path,
            when: rule.when,
            remaining: times === Infinity ? Infinity : Math.floor(times),
            status: rule.status,
            retryAfterSeconds: rule.retryAfterSeconds,
            stallMs: rule.stall === undefined ? 0 : Math.max(0, millis(rule.stall))
          })
        }),
      clearFaults: () =>
        Effect.sync(() => {
          faults = []
          rules = []
          latencyMs = 0
        }),
      requests: Effect.sync((): ReadonlyArray<RequestLogEntry> => log.map(({ stallMs: _, ...e }) => ({ ...e }))),
      requestCount: (path?: string) =>
        Effect.sync(() => path === undefined ? log.length : log.filter((e) => e.path === path).length),
      maxInFlight: (path?: string) => Effect.sync(() => inFlight.get(path)?.peak ?? 0),
      clearRequests: () =>
        Effect.sync(() => {
          log = []
          for (const counter of inFlight.values()) counter.peak = counter.current
        })
    }
  }
}

/** What {@link makeFaults} returns. */
export type Faults = ReturnType<typeof makeFaults>
