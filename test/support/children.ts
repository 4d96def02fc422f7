// Child processes for multi-process tests: each is killed when the test's scope closes, pass or
// fail, so no test leaves a process behind.
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"

export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  /** Lines the child printed on stdout, as they arrive. */
  readonly lines: ReadonlyArray<string>
  /** Completes with the exit code (or the signal) once the child is gone. */
  readonly exited: Deferred.Deferred<number | string>
  /** Completes with the first stdout line that satisfies `predicate`. */
  readonly waitForLine: (predicate: (line: string) => boolean) => Effect.Effect<string>
  /** Stderr as printed so far (for failure messages). */
  readonly stderr: () => string
  /** Writes one line to the child's stdin. */
  readonly send: (line: string) => void
}

/** Starts `command args` with its lifetime tied to the current scope (SIGKILL on close if still running). */
export const spawnScoped = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string | undefined> | undefined; readonly cwd?: string | undefined } = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const exited = yield* Deferred.make<number | string>()
      const child = spawn(command, args, {
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, ...options.env },
        cwd: options.cwd
      })
      const lines: Array<string> = []
      const waiters: Array<{ predicate: (line: string) => boolean; done: (line: string) => void }> = []
      let stderr = ""
      child.stderr!.on("data", (chunk: Buffer) => {
        if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8")
      })
      createInterface({ input: child.stdout! }).on("line", (line) => {
        lines.push(line)
        for (const waiter of waiters.splice(0)) {
          if (waiter.predicate(line)) waiter.done(line)
          else waiters.push(waiter)
        }
      })
      child.on("exit", (code, signal) => Deferred.unsafeDone(exited, Effect.succeed(code ?? signal ?? "unknown")))
      child.on("error", () => Deferred.unsafeDone(exited, Effect.succeed("spawn failed")))
      child.stdin!.on("error", () => undefined)
      return {
        process: child,
        pid: child.pid ?? -1,
        lines,
        exited,
        stderr: () => stderr,
        send: (line) => {
          if (child.stdin?.writable) child.stdin.write(`${line}\n`)
        },
        waitForLine: (predicate) =>
          Effect.async<string>((resume) => {
            const found = lines.find(predicate)
            if (found !== undefined) return resume(Effect.succeed(found))
            waiters.push({ predicate, done: (line) => resume(Effect.succeed(line)) })
          })
      } satisfies Child
    }),
    (child) =>
      Effect.gen(function*() {
        if (yield* Deferred.isDone(child.exited)) return
        child.process.kill("SIGKILL")
        yield* Deferred.await(child.exited).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      })
  )

/** A TypeScript file run by Node through tsx, as the multi-process tests do. */
export const spawnTsx = (
  script: string,
  args: ReadonlyArray<string>,
  options?: { readonly env?: Record<string, string | undefined> | undefined }
) => spawnScoped(process.execPath, ["--import", "tsx", script, ...args], options)
