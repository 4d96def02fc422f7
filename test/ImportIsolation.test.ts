// A user who imports only the core, or the core and the file adapter, never loads ioredis.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { spawnTsx } from "./support/children.js"

const script = join(import.meta.dirname, "fixtures", "importOnly.ts")

const loadedModules = (mode: "core" | "control") =>
  Effect.gen(function*() {
    const child = yield* spawnTsx(script, [mode])
    const line = yield* child.waitForLine((l) => l.startsWith("{")).pipe(Effect.timeout("60 seconds"))
    const { required, resolved } = JSON.parse(line) as { resolved: Array<string>; required: Array<string> }
    return [...resolved, ...required]
  })

describe("import isolation", () => {
  it.scopedLive("importing the core and the file adapter loads no ioredis module", () =>
    Effect.gen(function*() {
      const [core, control] = yield* Effect.all([loadedModules("core"), loadedModules("control")], { concurrency: 2 })
      // The recording works: the core's own modules are there, and ioredis is when it is imported.
      expect(core.some((url) => url.includes("/src/KeyStore.ts"))).toBe(true)
      expect(core.some((url) => url.includes("/adapters/file/index.ts"))).toBe(true)
      expect(control.some((url) => url.includes("/node_modules/ioredis/"))).toBe(true)
      expect(core.filter((url) => url.includes("ioredis"))).toEqual([])
      expect(core.filter((url) => url.includes("/adapters/redis/"))).toEqual([])
    }), 90_000)
})
