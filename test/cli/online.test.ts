// The online commands as child processes against a TestOperator on 127.0.0.1, with each role's
// credentials from UID2_* variables: keys (and --save), decrypt, inspect, encrypt, generate, refresh;
// the exit codes of operator and configuration errors; never a secret in any output.
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readFileSync, statSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Crypto from "../../src/Crypto.js"
import { decrypt, prepare } from "../../src/Decryption.js"
import * as KeyRing from "../../src/KeyRing.js"
import * as TestOperator from "../../src/testing/TestOperator.js"
import { jsonLines, type Run, run, type RunOptions, SLOW } from "./run.js"

const envOf = (operator: TestOperator.TestOperatorShape, client: TestOperator.ClientCredentials) => ({
  UID2_BASE_URL: operator.baseUrl,
  UID2_API_KEY: client.apiKey,
  UID2_SECRET_KEY: client.secret
})

const cli = (args: ReadonlyArray<string>, options?: RunOptions) => Effect.promise(() => run(args, options))

/** No credential and no key secret of the operator anywhere in a run's output. */
const expectNoSecrets = (operator: TestOperator.TestOperatorShape, ...runs: ReadonlyArray<Run>) =>
  Effect.gen(function*() {
    const secrets = [
      ...(yield* operator.keys).map((key) => key.secret),
      ...operator.clients.flatMap((client) => [client.secret, client.apiKey])
    ]
    for (const r of runs) for (const secret of secrets) expect(r.stdout + r.stderr).not.toContain(secret)
  })

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "uid2-cli-online-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

layer(TestOperator.layer(), { excludeTestServices: true })("uid2 against a local operator", (it) => {
  it.scoped("keys summarises the ring and --save keeps it (0600) for offline decrypts", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.TestOperator
      const dir = yield* tempDir
      const saved = join(dir, "bidstream.json")
      const env = envOf(operator, TestOperator.DSP_CLIENT)
      const keys = yield* cli(["keys", "--json", "--save", saved], { env })
      expect(keys.stderr).toBe("")
      expect(keys.code).toBe(0)
      const ring = yield* operator.keyRing("bidstream", TestOperator.DSP_CLIENT.apiKey)
      const [summary] = jsonLines(keys.stdout)
      expect(summary).toMatchObject({
        status: "success",
        origin: `${operator.baseUrl}/v2/key/bidstream`,
        scope: "UID2",
        keyCount: ring.keys.length,
        keyIds: ring.keys.map((key) => key.id),
        usable: true,
        saved
      })
      expect((summary!["sites"] as Array<{ id: number }>).map((site) => site.id).sort((a, b) => a - b)).toEqual([
        999,
        1001
      ])
      expect(statSync(saved).mode & 0o777).toBe(0o600)
      const file = KeyRing.fromResponse(JSON.parse(readFileSync(saved, "utf8")))
      expect(Either.map(file, (r) => r.keys.map((key) => key.id))).toEqual(Either.right(ring.keys.map((key) => key.id)))

      const issued = yield* operator.issueToken({ email: "saved@example.com" })
      const [online, offline] = yield* Effect.all([
        cli(["decrypt", "--json", issued.advertisingToken], { env }),
        cli(["decrypt", "--json", "--keys", saved, issued.advertisingToken])
      ], { concurrency: 2 })
      for (const r of [online, offline]) {
        expect(r.code).toBe(0)
        expect(jsonLines(r.stdout)[0]).toMatchObject({ status: "success", uid: issued.rawUid, siteId: issued.siteId })
      }
      yield* expectNoSecrets(operator, keys, online, offline)
    }), SLOW)

  it.effect(
    "inspect explains a client-side token refused on the wrong domain, with every field",
    () =>
      Effect.gen(function*() {
        const operator = yield* TestOperator.TestOperator
        const issued = yield* operator.issueToken({ email: "cstg@example.com", siteId: 1001, privacyBits: 3 })
        const env = envOf(operator, TestOperator.DSP_CLIENT)
        const [refused, accepted] = yield* Effect.all([
          cli(["inspect", "--json", "--domain", "elsewhere.example", issued.advertisingToken], { env }),
          cli(["inspect", "--domain", "publisher.example", issued.advertisingToken], { env })
        ], { concurrency: 2 })
        expect(refused.code).toBe(1)
        expect(jsonLines(refused.stdout)[0]).toMatchObject({
          status: "DomainOrAppNameCheckFailed",
          message: "domain or app name not allowed for site 1001",
          decrypted: true,
          siteId: 1001,
          isClientSideGenerated: true,
          privacy: { legacy: true, clientSideGenerated: true, optedOut: false },
          expires: new Date(issued.expiry).toISOString()
        })
        expect(accepted.code).toBe(0)
        expect(accepted.stdout).toContain(issued.rawUid)
        expect(accepted.stdout).toMatch(/^client-side generated +yes$/m)
        expect(accepted.stdout).toContain("✓ success")
        yield* expectNoSecrets(operator, refused, accepted)
      }),
    SLOW
  )

  it.effect("encrypt makes sharing tokens with the sharer's keys", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.TestOperator
      const rawUid = yield* operator.rawUidOf({ email: "shared@example.com" })
      const encrypted = yield* cli(["encrypt", "--json", rawUid], { env: envOf(operator, TestOperator.SHARER_CLIENT) })
      expect(encrypted.code).toBe(0)
      const [out] = jsonLines(encrypted.stdout)
      expect(out).toMatchObject({ status: "success", siteId: TestOperator.SHARER_CLIENT.siteId, scope: "UID2" })
      // Decrypted here, by the SDK itself, with the sharing keys the operator serves.
      const ring = prepare(
        yield* operator.keyRing("sharing", TestOperator.SHARER_CLIENT.apiKey),
        Crypto.makeNode(Crypto.secureRandom)
      )
      const decrypted = decrypt(ring, out!["token"] as string, Date.now(), { clientType: "sharing" })
      expect(decrypted).toMatchObject({
        _tag: "DecryptedToken",
        uid: rawUid,
        siteId: TestOperator.SHARER_CLIENT.siteId
      })
      yield* expectNoSecrets(operator, encrypted)
    }), SLOW)

  it.effect(
    "generate, then refresh the identity it printed; an opted-out user gets no token",
    () =>
      Effect.gen(function*() {
        const operator = yield* TestOperator.TestOperator
        const env = envOf(operator, TestOperator.PUBLISHER_CLIENT)
        const [generated, optout] = yield* Effect.all([
          cli(["generate", "--json", "--email", "Jane.Doe@example.com"], { env }),
          cli(["generate", "--json", "--email", TestOperator.TestIdentities.optoutEmail], { env })
        ], { concurrency: 2 })
        expect(generated.code).toBe(0)
        const [first] = jsonLines(generated.stdout)
        expect(first).toMatchObject({ status: "success" })
        const identity = first!["identity"] as Record<string, unknown>
        expect(typeof identity["advertising_token"]).toBe("string")
        expect(optout.code).toBe(1)
        expect(jsonLines(optout.stdout)).toEqual([{ status: "optout" }])

        const refreshed = yield* cli(["refresh", "--json"], { env, input: generated.stdout })
        expect(refreshed.code).toBe(0)
        const [second] = jsonLines(refreshed.stdout)
        expect(second).toMatchObject({ status: "success" })
        expect((second!["identity"] as Record<string, unknown>)["advertising_token"]).not.toBe(
          identity["advertising_token"]
        )
        // The DSP decrypts the publisher's new token to the user's raw UID.
        const rawUid = yield* operator.rawUidOf({ email: "jane.doe@example.com" })
        const ring = prepare(
          yield* operator.keyRing("bidstream", TestOperator.DSP_CLIENT.apiKey),
          Crypto.makeNode(Crypto.secureRandom)
        )
        const token = (second!["identity"] as Record<string, string>)["advertising_token"]!
        expect(decrypt(ring, token, Date.now(), { clientType: "bidstream" })).toMatchObject({ uid: rawUid })
        yield* expectNoSecrets(operator, generated, optout, refreshed)
      }),
    SLOW
  )

  it.effect("validate confirms a token belongs to its email, and not to another", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.TestOperator
      const email = TestOperator.TestIdentities.validateEmail
      const issued = yield* operator.issueToken({ email, siteId: TestOperator.PUBLISHER_CLIENT.siteId })
      const env = envOf(operator, TestOperator.PUBLISHER_CLIENT)
      const [valid, invalid, usage] = yield* Effect.all([
        cli(["validate", "--json", "--email", email, issued.advertisingToken], { env }),
        cli(["validate", "--email", "someone.else@example.com", issued.advertisingToken], { env }),
        cli(["validate", issued.advertisingToken], { env })
      ], { concurrency: 2 })
      expect(valid.code).toBe(0)
      expect(jsonLines(valid.stdout)).toEqual([{ status: "success", valid: true }])
      expect(invalid.code).toBe(1)
      expect(invalid.stdout).toContain("not valid")
      expect(usage.code).toBe(2)
      expect(usage.stderr).toContain("give exactly one of --email, --phone, --email-hash, --phone-hash")
      yield* expectNoSecrets(operator, valid, invalid, usage)
    }), SLOW)

  it.effect(
    "operator and configuration errors: exit 3, one line, no stack trace unless --verbose, no secret",
    () =>
      Effect.gen(function*() {
        const operator = yield* TestOperator.TestOperator
        const dsp = envOf(operator, TestOperator.DSP_CLIENT)
        const [badKey, badKeyVerbose, badSecret, missing] = yield* Effect.all([
          cli(["keys"], { env: { ...dsp, UID2_API_KEY: "UID2-C-L-1002-not-a-key" } }),
          cli(["keys", "--verbose"], { env: { ...dsp, UID2_API_KEY: "UID2-C-L-1002-not-a-key" } }),
          cli(["decrypt", "AAAA"], { env: { ...dsp, UID2_SECRET_KEY: TestOperator.SHARER_CLIENT.secret } }),
          cli(["keys", "--json"], { env: { UID2_BASE_URL: operator.baseUrl } })
        ], { concurrency: 2 })
        expect(badKey.code).toBe(3)
        expect(badKey.stdout).toBe("")
        expect(badKey.stderr).toBe(
          "uid2: operator rejected /v2/key/bidstream with HTTP 401 unauthorized: check the API key\n"
        )
        expect(badKeyVerbose.code).toBe(3)
        expect(badKeyVerbose.stderr.split("\n").length).toBeGreaterThan(2)
        expect(badKeyVerbose.stderr).toContain("OperatorRejected")
        expect(badKeyVerbose.stderr).not.toContain("UID2-C-L-1002-not-a-key")
        expect(badSecret.code).toBe(3)
        expect(badSecret.stderr.trim().split("\n")).toHaveLength(1)
        expect(badSecret.stderr).toMatch(/client secret|ClientSecret/)
        expect(missing.code).toBe(3)
        expect(jsonLines(missing.stdout)).toEqual([{
          status: "ConfigError",
          message: "no operator credentials: missing --api-key (UID2_API_KEY), --secret-key (UID2_SECRET_KEY); set" +
            " the flags or variables (or start a local operator with `uid2 operator`)",
          exitCode: 3
        }])
        yield* expectNoSecrets(operator, badKey, badKeyVerbose, badSecret, missing)
      }),
    SLOW
  )
})
