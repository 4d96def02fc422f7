// `uid2 decrypt`, `inspect` and `encrypt` offline (--keys FILE), as child processes: the reference
// decrypt vectors over stdin, one JSON line out per line in, garbage included; exit codes; usage errors.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { jsonLines, run, SLOW } from "./run.js"
import * as V from "./vectors.js"

let dir: string
const file = (name: string) => join(dir, name)

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "uid2-cli-"))
  writeFileSync(file("dv5.json"), JSON.stringify(V.DV5_KEYS))
  writeFileSync(file("unlimited.json"), JSON.stringify(V.UNLIMITED_KEYS))
  writeFileSync(file("euid-bidstream.json"), JSON.stringify(V.EUID_BIDSTREAM_KEYS))
  writeFileSync(file("broken.json"), "{\"body\": {\"keys\": [{\"id\": 1}]}}")
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const truncated = V.DV2.slice(0, -8)

describe("uid2 decrypt, offline", () => {
  it("answers every line of stdin with one JSON line, in order: the vectors and garbage", async () => {
    const lines: Array<readonly [string, string]> = [
      [V.CP1, "success"],
      [V.DV1, "success"],
      [V.DV2, "success"],
      [V.DV3, "success"],
      [V.DV3_STANDARD, "success"],
      [V.DV4, "InvalidIdentityScope"],
      [V.DV5, "success"],
      ["", "InvalidPayload"],
      ["Ag", "InvalidPayload"],
      ["%%%% not base64 %%%%", "InvalidPayload"],
      ["☃☃☃☃☃☃☃☃", "InvalidPayload"],
      ["garbage", "VersionNotSupported"],
      [truncated, "InvalidPayload"],
      ["A".repeat(70_000), "InvalidPayload"],
      [`  ${V.DV2}  \r`, "success"],
      [V.EXAMPLE_UID, "VersionNotSupported"]
    ]
    const input = lines.map(([line]) => line).join("\n") + "\n"
    const result = await run(
      ["decrypt", "--keys", file("unlimited.json"), "--client", "sharing", "--now", String(V.DV_NOW)],
      { input }
    )
    expect(result.code).toBe(1)
    const out = jsonLines(result.stdout)
    expect(out.map((o) => o["status"])).toEqual(lines.map(([, status]) => status))
    for (const o of out) if (o["status"] === "success") expect(o["uid"]).toBe(V.EXAMPLE_UID)
    expect(out[0]).toMatchObject({
      version: 4,
      scope: "UID2",
      identityType: "Email",
      siteId: 9000,
      masterKeyId: 164,
      siteKeyId: 165
    })
    expect(out[1]).toMatchObject({ version: 2, identityType: null, refreshed: null, generated: null })
    expect(out[6]).toMatchObject({
      version: 4,
      established: "2023-01-01T01:01:01.000Z",
      expires: "2023-01-31T01:01:01.000Z",
      isClientSideGenerated: false
    })
    for (const o of out.filter((o) => o["status"] !== "success")) expect(typeof o["message"]).toBe("string")
    expect(out[13]!["message"]).toContain("longer than")
    expect(result.stderr).toBe("")
  }, SLOW)

  it("applies the key response's lifetime limit and expiry (the checklist's own key JSON)", async () => {
    const result = await run(
      ["decrypt", "--keys", file("dv5.json"), "--client", "sharing", "--now", new Date(V.DV5_EXPIRED).toISOString()],
      { input: [V.DV5, V.CP1, V.DV1].join("\n") } // no newline after the last line
    )
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)).toEqual([
      { status: "ExpiredToken", message: "token expired at 2023-01-31T01:01:01.000Z" },
      { status: "InvalidTokenLifetime", message: "invalid token lifetime" },
      { status: "InvalidTokenLifetime", message: "invalid token lifetime" }
    ])
  }, SLOW)

  it("checks the domain of client-side generated tokens (bidstream, EUID ring)", async () => {
    const [accepted, refused] = await Promise.all([
      run(["decrypt", "--keys", file("euid-bidstream.json"), "--domain", "Example.com", "--now", String(V.DV_NOW)], {
        input: `${V.DV4}\n${V.DV2}\n`
      }),
      run([
        "decrypt",
        "--json",
        "--keys",
        file("euid-bidstream.json"),
        "--domain",
        "example.net",
        "--now",
        String(V.DV_NOW),
        V.DV4
      ])
    ])
    expect(accepted.code).toBe(1)
    const [dv4, dv2] = jsonLines(accepted.stdout)
    expect(dv4).toMatchObject({
      status: "success",
      uid: V.PHONE_UID,
      scope: "EUID",
      identityType: "Phone",
      isClientSideGenerated: true,
      privacyBits: 3
    })
    expect(dv2).toMatchObject({ status: "InvalidIdentityScope" })
    expect(refused.code).toBe(1)
    expect(jsonLines(refused.stdout)).toEqual([
      { status: "DomainOrAppNameCheckFailed", message: "domain or app name not allowed for site 9000" }
    ])
  }, SLOW)

  it("reports bad flags as usage errors (2) and bad key files as configuration errors (3)", async () => {
    const [badNow, badClient, unknownFlag, missing, broken] = await Promise.all([
      run(["decrypt", "--keys", file("dv5.json"), "--now", "yesterday", V.DV5]),
      run(["decrypt", "--keys", file("dv5.json"), "--client", "legacy", V.DV5]),
      run(["decrypt", "--keys", file("dv5.json"), "--bogus"]),
      run(["decrypt", "--keys", file("missing.json"), V.DV5]),
      run(["decrypt", "--json", "--keys", file("broken.json"), V.DV5])
    ])
    expect(badNow.code).toBe(2)
    expect(badNow.stderr).toContain("--now must be ISO-8601")
    expect(badClient.code).toBe(2)
    expect(unknownFlag.code).toBe(2)
    expect(unknownFlag.stderr).toContain("unknown option --bogus")
    expect(missing.code).toBe(3)
    expect(missing.stderr.trim()).toBe(`uid2: keys file ${file("missing.json")}: no such file`)
    expect(broken.code).toBe(3)
    expect(jsonLines(broken.stdout)).toEqual([{
      status: "ConfigError",
      message: `keys file ${file("broken.json")}: invalid key response at body.keys[0].activates: is missing`,
      exitCode: 3
    }])
    for (const r of [badNow, badClient, unknownFlag, missing, broken]) expect(r.stderr).not.toMatch(/\n\s+at /)
  }, SLOW)
})

describe("uid2 inspect, offline", () => {
  it("reads headers without keys, one JSON line per input line", async () => {
    const result = await run(["inspect"], { input: [V.CP1, V.DV1, V.DV4, V.PHONE_UID, "%%%%%%%%"].join("\n") })
    expect(result.code).toBe(1)
    const [cp1, dv1, dv4, raw, bad] = jsonLines(result.stdout)
    expect(cp1).toEqual({
      status: "success",
      kind: "token",
      decrypted: false,
      version: 4,
      scope: "UID2",
      identityType: "Email",
      masterKeyId: 164,
      encoding: "base64url",
      length: 218
    })
    expect(dv1).toMatchObject({ status: "success", version: 2, scope: null, identityType: null, masterKeyId: 164 })
    expect(dv4).toMatchObject({ status: "success", version: 4, scope: "EUID", identityType: "Phone", masterKeyId: 164 })
    expect(raw).toEqual({ status: "success", kind: "rawUid", generation: 3, scope: "UID2", identityType: "Phone" })
    expect(bad).toMatchObject({ status: "InvalidPayload" })
  }, SLOW)

  it("with keys shows every field and the exact reason; --ignore-expiry shows an expired token's raw UID", async () => {
    const at = String(V.DV5_EXPIRED)
    const [failed, ignored] = await Promise.all([
      run(["inspect", "--json", "--keys", file("dv5.json"), "--client", "sharing", "--now", at, V.DV5]),
      run(["inspect", "--keys", file("dv5.json"), "--client", "sharing", "--now", at, "--ignore-expiry", V.DV5])
    ])
    expect(failed.code).toBe(1)
    expect(jsonLines(failed.stdout)[0]).toMatchObject({
      status: "ExpiredToken",
      message: "token expired at 2023-01-31T01:01:01.000Z",
      decrypted: true,
      siteId: 9000,
      siteKeyId: 165,
      established: "2023-01-01T01:01:01.000Z",
      refreshed: "2023-01-01T01:01:01.000Z",
      expires: "2023-01-31T01:01:01.000Z",
      privacy: { legacy: false, clientSideGenerated: false, optedOut: false },
      isClientSideGenerated: false,
      operator: { siteId: 0, type: 1, version: 0, keyId: 0 }
    })
    expect(jsonLines(failed.stdout)[0]).not.toHaveProperty("uid")
    expect(ignored.code).toBe(0)
    expect(ignored.stdout).toMatch(new RegExp(`^raw UID +${V.EXAMPLE_UID.replace(/[+/]/g, "\\$&")}$`, "m"))
    expect(ignored.stdout).toMatch(/^site id +9000$/m)
    expect(ignored.stdout).toContain("--ignore-expiry")
    expect(ignored.stdout).not.toContain("\u001b[")
  }, SLOW)
})

describe("uid2 encrypt, offline", () => {
  it("makes sharing tokens that decrypt back to the raw UIDs, one JSON line per input line", async () => {
    const rawUids: Array<readonly [string, string]> = [
      ["Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk=", "Email"],
      ["BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ", "Phone"],
      ["oKg0ZY9ieD/CGMEjAA0kcq+8aUbLMBG0MgCT3kWUnJs=", "Email"],
      ["AKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb", "Email"]
    ]
    const now = String(V.DV5_ENCRYPTED_AT)
    const encrypted = await run(["encrypt", "--keys", file("dv5.json"), "--now", now], {
      input: [...rawUids.map(([uid]) => uid), "not base64!", "AAAA"].join("\n") + "\n"
    })
    expect(encrypted.code).toBe(1)
    const out = jsonLines(encrypted.stdout)
    expect(out.map((o) => o["status"])).toEqual([
      "success",
      "success",
      "success",
      "success",
      "EncryptionFailure",
      "EncryptionFailure"
    ])
    for (const [i, [, type]] of rawUids.entries()) {
      expect(out[i]).toMatchObject({
        scope: "UID2",
        identityType: type,
        siteId: 9000,
        expires: "2023-01-31T01:01:01.000Z"
      })
      expect(out[i]!["token"]).toMatch(type === "Phone" ? /^B4[A-Za-z0-9_-]+$/ : /^A4[A-Za-z0-9_-]+$/)
    }
    const decrypted = await run(["decrypt", "--keys", file("dv5.json"), "--client", "sharing", "--now", now], {
      input: out.slice(0, 4).map((o) => o["token"]).join("\n")
    })
    expect(decrypted.code).toBe(0)
    expect(jsonLines(decrypted.stdout).map((o) => [o["uid"], o["identityType"]])).toEqual(
      rawUids.map(([u, t]) => [u, t])
    )
  }, SLOW)
})
