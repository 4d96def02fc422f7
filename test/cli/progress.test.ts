// The progress display of `uid2 map` / `uid2 optout` against fake terminals, under TestClock: a bar
// redrawn in place on a terminal, plain lines every few seconds otherwise, and the final state.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { barLine, plainLine, type Snapshot, start } from "../../src/cli/progress.js"
import type { TextSink } from "../../src/cli/terminal.js"

const fakeSink = (isTTY: boolean, columns = 100) => {
  const writes: Array<string> = []
  const sink: TextSink = { isTTY, columns, write: (text) => (writes.push(text), true), once: () => undefined }
  return { sink, writes }
}

describe("progress", () => {
  it("renders a bar with items, percentage, rate, ETA, retries and requests in flight", () => {
    const snapshot: Snapshot = { done: 2_500, total: 10_000, retries: 3, inFlight: 2 }
    const line = barLine("uid2 map", "rows", snapshot, 5_000, 100)
    const match = /^uid2 map \[(█+)(░+)\] {2}25% 2,500\/10,000 rows {2}500\/s {2}ETA 15s {2}3 retries {2}2 in flight$/
      .exec(line)
    expect(match).not.toBeNull()
    const [filled, empty] = [match![1]!.length, match![2]!.length]
    expect(Math.abs(filled / (filled + empty) - 0.25)).toBeLessThan(0.05)
    expect(line.length).toBeLessThan(100)
    expect(barLine("uid2 map", "rows", snapshot, 5_000, 40).length).toBeLessThan(40)
    expect(plainLine("uid2 optout", "rows", { done: 42, total: undefined, retries: 1, inFlight: 1 }, 2_000))
      .toBe("uid2 optout: 42 rows, 21/s, 1 retry, 1 in flight")
  })

  it.scoped("on a terminal: redraws the bar in place, then ends its line", () =>
    Effect.gen(function*() {
      const { sink, writes } = fakeSink(true)
      let done = 0
      const reporter = yield* start({
        sink,
        label: "uid2 map",
        noun: "rows",
        snapshot: () => ({ done, total: 10, retries: 0, inFlight: 1 })
      })
      yield* Effect.yieldNow() // the drawing fiber is now waiting on the clock
      expect(writes).toEqual([])
      done = 4
      yield* TestClock.adjust("200 millis")
      yield* Effect.yieldNow()
      done = 8
      yield* TestClock.adjust("200 millis")
      yield* Effect.yieldNow()
      expect(writes).toHaveLength(2)
      // eslint-disable-next-line no-control-regex
      for (const w of writes) expect(w).toMatch(/^\ruid2 map \[[█░]+\] +\d+% \d+\/10 rows .*\u001b\[K$/)
      expect(writes[0]).toContain(" 40% 4/10 rows")
      expect(writes[1]).toContain(" 80% 8/10 rows")
      yield* reporter.clear
      expect(writes.at(-1)).toBe("\r\u001b[K")
      done = 10
      yield* reporter.finish
      expect(writes.at(-2)).toContain("100% 10/10 rows")
      expect(writes.at(-1)).toBe("\n")
      const count = writes.length
      yield* TestClock.adjust("1 second")
      expect(writes).toHaveLength(count) // nothing drawn after finish
    }))

  it.scoped("elsewhere: a plain line every five seconds and at the end, never a carriage return", () =>
    Effect.gen(function*() {
      const { sink, writes } = fakeSink(false)
      let done = 0
      const reporter = yield* start({
        sink,
        label: "uid2 map",
        noun: "rows",
        snapshot: () => ({ done, total: undefined, retries: 0, inFlight: 0 })
      })
      yield* Effect.yieldNow()
      done = 100
      yield* TestClock.adjust("4 seconds")
      expect(writes).toEqual([])
      yield* TestClock.adjust("1 second")
      expect(writes).toEqual(["uid2 map: 100 rows, 20/s, 0 retries, 0 in flight\n"])
      yield* reporter.redraw
      yield* reporter.clear
      expect(writes).toHaveLength(1)
      done = 150
      yield* reporter.finish
      expect(writes).toEqual([
        "uid2 map: 100 rows, 20/s, 0 retries, 0 in flight\n",
        "uid2 map: 150 rows, 30/s, 0 retries, 0 in flight\n"
      ])
    }))
})
