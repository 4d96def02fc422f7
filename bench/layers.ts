/**
 * The Crypto implementations the SDK rows run on. To benchmark another one,
 * add an entry to {@link cryptoLayers} (or pass `extra`): everything else is
 * generic over `CryptoShape`.
 */
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Crypto, type CryptoShape, layerNode } from "../src/Crypto.js"

export interface CryptoUnderTest {
  /** Short name used in the table and the JSON (`node`, `native`, …). */
  readonly name: string
  readonly crypto: CryptoShape
  /** One line on what it is (version, path…). */
  readonly detail?: string
}

export interface LayerNote {
  readonly name: string
  readonly status: "loaded" | "absent" | "unavailable"
  readonly detail: string
}

/** The default layer, built by `Crypto.layerNode` itself. */
export const nodeLayer = (): CryptoUnderTest => ({
  name: "node",
  crypto: Effect.runSync(Effect.provide(Crypto, layerNode)),
  detail: `node:crypto (${process.versions.openssl === undefined ? "OpenSSL" : `OpenSSL ${process.versions.openssl}`})`
})

const isCryptoShape = (u: unknown): u is CryptoShape => {
  if (typeof u !== "object" || u === null) return false
  const c = u as Record<string, unknown>
  return ["importKey", "releaseKey", "gcmDecrypt", "gcmEncrypt", "cbcDecrypt", "cbcEncrypt", "randomBytes"]
    .every((k) => typeof c[k] === "function")
}

// index.ts under tsx; index.js when the bench itself was compiled (e.g. for profiling with plain node).
const nativeIndex = (): URL | undefined =>
  ["index.ts", "index.js"]
    .map((f) => new URL(`../adapters/native-crypto/${f}`, import.meta.url))
    .find((u) => existsSync(fileURLToPath(u)))

/**
 * The colleague's N-API adapter, if `adapters/native-crypto/index.ts` exists
 * and its loader gives a working implementation. Imported dynamically by a
 * computed specifier so that neither the typecheck nor the run depends on it.
 * Accepts `make(): CryptoShape | undefined` or `load(): Either<CryptoShape, E>`.
 */
export const nativeLayer = async (): Promise<CryptoUnderTest | LayerNote> => {
  const index = nativeIndex()
  if (index === undefined) {
    return { name: "native", status: "absent", detail: "adapters/native-crypto/index.ts not found" }
  }
  let mod: Record<string, unknown>
  try {
    mod = await import(index.href) as Record<string, unknown>
  } catch (cause) {
    return {
      name: "native",
      status: "unavailable",
      detail: `import failed: ${String((cause as Error)?.message ?? cause)}`
    }
  }
  try {
    let crypto: unknown
    let why = "no `make` or `load` export"
    if (typeof mod["make"] === "function") {
      crypto = (mod["make"] as () => unknown)()
      why = "make() returned no implementation (addon not built or self-test failed)"
    } else if (typeof mod["load"] === "function") {
      const loaded = (mod["load"] as () => unknown)() as { _tag?: string; right?: unknown; left?: { message?: string } }
      if (loaded?._tag === "Right") crypto = loaded.right
      else why = `load() failed: ${loaded?.left?.message ?? "unknown reason"}`
    }
    if (!isCryptoShape(crypto)) return { name: "native", status: "unavailable", detail: why }
    const version = (crypto as { opensslVersion?: unknown }).opensslVersion
    return {
      name: "native",
      crypto,
      detail: `adapters/native-crypto (N-API${typeof version === "string" ? `, ${version}` : ""})`
    }
  } catch (cause) {
    return {
      name: "native",
      status: "unavailable",
      detail: `loader threw: ${String((cause as Error)?.message ?? cause)}`
    }
  }
}

const isLayer = (x: CryptoUnderTest | LayerNote): x is CryptoUnderTest => "crypto" in x

/**
 * Every available layer, node first, plus notes on the ones that did not load.
 * `only` filters by name (e.g. `["node"]`).
 */
export const cryptoLayers = async (
  only?: ReadonlyArray<string>,
  extra: ReadonlyArray<CryptoUnderTest> = []
): Promise<{ layers: Array<CryptoUnderTest>; notes: Array<LayerNote> }> => {
  const candidates: Array<CryptoUnderTest | LayerNote> = [nodeLayer(), await nativeLayer(), ...extra]
  const wanted = (name: string) => only === undefined || only.length === 0 || only.includes(name)
  const layers: Array<CryptoUnderTest> = []
  const notes: Array<LayerNote> = []
  for (const c of candidates) {
    if (!wanted(c.name)) continue
    if (isLayer(c)) {
      layers.push(c)
      notes.push({ name: c.name, status: "loaded", detail: c.detail ?? c.crypto.name })
    } else notes.push(c)
  }
  return { layers, notes }
}
