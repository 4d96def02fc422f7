/**
 * The demo's runner: roles of named steps, run in order, each timed and
 * bounded in time, printed as it finishes (aligned names, ✓/✗, timings, a
 * one-line detail), and counted on a last line `N passed, N failed`. A
 * failed step leaves the rest of its role not run (counted as failed).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { Palette } from "./terminal.js"

/**
 * One step: a name, and an Effect that answers a one-line detail or fails.
 * Failures are shown as their `_tag: message` (or message), never more.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<S> {
  readonly name: string
  readonly run: (state: S) => Effect.Effect<string, unknown, Scope.Scope>
}

/**
 * A role: who it is, a one-line explanation, its steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Role<S> {
  readonly key: string
  readonly title: string
  readonly blurb: string
  readonly steps: ReadonlyArray<Step<S>>
}

/**
 * What one step did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly role: string
  readonly step: string
  readonly passed: boolean
  /** Whether it ran at all (a failure earlier in its role skips it). */
  readonly ran: boolean
  readonly millis: number
  readonly detail: string
}

/**
 * Where outcomes go as they happen.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reporter {
  readonly role: (role: Role<never>) => Effect.Effect<void>
  readonly outcome: (outcome: Outcome) => Effect.Effect<void>
}

/** A failure in one line: the tag and message of tagged errors, the message of others. */
export const describeFailure = (error: unknown): string => {
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    const message = (error as { message?: unknown }).message
    if (typeof message === "string" && message.length > 0) {
      return typeof tag === "string" && !message.startsWith(tag) ? `${tag}: ${message}` : message
    }
    if (typeof tag === "string") return tag
  }
  return String(error)
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ")

/**
 * Runs every role in order; each role's steps share one scope (clients
 * built by a step live until the role ends).
 *
 * @since 0.1.0
 * @category running
 */
export const runRoles = <S>(
  roles: ReadonlyArray<Role<S>>,
  state: S,
  reporter: Reporter,
  stepTimeout: Duration.DurationInput
): Effect.Effect<ReadonlyArray<Outcome>> =>
  Effect.gen(function*() {
    const outcomes: Array<Outcome> = []
    const limit = Duration.decode(stepTimeout)
    for (const role of roles) {
      yield* reporter.role(role as Role<never>)
      yield* Effect.scoped(Effect.gen(function*() {
        let failed = false
        for (const step of role.steps) {
          if (failed) {
            const skipped = {
              role: role.key,
              step: step.name,
              passed: false,
              ran: false,
              millis: 0,
              detail: "not run: an earlier step failed"
            }
            outcomes.push(skipped)
            yield* reporter.outcome(skipped)
            continue
          }
          const start = performance.now()
          const exit = yield* step.run(state).pipe(
            Effect.timeoutFail({ duration: limit, onTimeout: () => `timed out after ${Duration.format(limit)}` }),
            Effect.exit
          )
          const millis = performance.now() - start
          const outcome: Outcome = Exit.match(exit, {
            onSuccess: (detail) => ({
              role: role.key,
              step: step.name,
              passed: true,
              ran: true,
              millis,
              detail: oneLine(detail)
            }),
            onFailure: (cause) => ({
              role: role.key,
              step: step.name,
              passed: false,
              ran: true,
              millis,
              detail: oneLine(
                Cause.failureOption(cause).pipe((o) =>
                  o._tag === "Some" ? describeFailure(o.value) : `defect: ${describeFailure(Cause.squash(cause))}`
                )
              )
            })
          })
          failed = !outcome.passed
          outcomes.push(outcome)
          yield* reporter.outcome(outcome)
        }
      }))
    }
    return outcomes
  })

/**
 * A duration for the timing column: "0.4 ms", "12 ms", "1.3 s".
 *
 * @since 0.1.0
 * @category text
 */
export const formatMillis = (millis: number): string =>
  millis < 10
    ? `${millis.toFixed(1)} ms`
    : millis < 1000
    ? `${Math.round(millis)} ms`
    : `${(millis / 1000).toFixed(1)} s`

/**
 * The text line of an outcome: mark, step name padded to `nameWidth`,
 * timing right-aligned, detail (cut to `columns` on a terminal).
 *
 * @since 0.1.0
 * @category text
 */
export const outcomeLine = (
  outcome: Outcome,
  nameWidth: number,
  c: Palette,
  columns: number | undefined
): string => {
  const mark = outcome.passed ? c.green("✓") : c.red("✗")
  const name = outcome.step.padEnd(nameWidth)
  const timing = (outcome.ran ? formatMillis(outcome.millis) : "—").padStart(8)
  // The visible width before the detail: two spaces, the mark and a space, name, two spaces, timing, two spaces.
  const room = columns === undefined ? Infinity : Math.max(20, columns - (4 + name.length + 2 + timing.length + 2))
  const detail = outcome.detail.length > room ? `${outcome.detail.slice(0, room - 1)}…` : outcome.detail
  return `  ${mark} ${name}  ${c.dim(timing)}  ${outcome.passed ? detail : c.red(detail)}`
}

/**
 * The last line: `N passed, N failed`.
 *
 * @since 0.1.0
 * @category text
 */
export const summaryLine = (outcomes: ReadonlyArray<Outcome>): string => {
  const passed = outcomes.filter((o) => o.passed).length
  return `${passed} passed, ${outcomes.length - passed} failed`
}
