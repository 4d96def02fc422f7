/**
 * A minimal IAB TCF v2 core-string reader for the test operator's EUID
 * consent check: a token generate for EUID whose `tcf_consent_string` lacks
 * consent answers `insufficient_user_consent`, and one that cannot be parsed
 * is a 400. Private to the test kit.
 *
 * The rule applied (modelled on the EUID operator): vendor 21 (The Trade
 * Desk) has consent, purposes 1, 3 and 4 have consent, and purposes 2, 7 and
 * 10 have consent or legitimate interest. The two consent strings of the SDK
 * integration tests come out as `"sufficient"` and
 * `"insufficient"` respectively.
 */

/** Outcome of {@link checkConsent}. */
export type ConsentOutcome = "sufficient" | "insufficient" | "invalid"

const VENDOR_ID = 21
const CONSENT_PURPOSES = [1, 3, 4]
const CONSENT_OR_LI_PURPOSES = [2, 7, 10]

class Bits {
  offset = 0
  constructor(readonly bits: string) {}
  read(n: number): number {
    if (this.offset + n > this.bits.length) throw new RangeError("truncated")
    const value = parseInt(this.bits.slice(this.offset, this.offset + n), 2)
    this.offset += n
    return value
  }
  take(n: number): string {
    if (this.offset + n > this.bits.length) throw new RangeError("truncated")
    const out = this.bits.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }
}

/** Reads a vendor section (bit field or ranges) and says whether `vendor` is set. */
const vendorSection = (r: Bits, vendor: number): boolean => {
  const maxVendorId = r.read(16)
  const isRange = r.read(1) === 1
  if (!isRange) {
    const field = r.take(maxVendorId)
    return vendor <= maxVendorId && field[vendor - 1] === "1"
  }
  const entries = r.read(12)
  let found = false
  for (let i = 0; i < entries; i++) {
    const isARange = r.read(1) === 1
    const start = r.read(16)
    const end = isARange ? r.read(16) : start
    if (vendor >= start && vendor <= end) found = true
  }
  return found
}

/** Checks a TCF v2 consent string against the operator's EUID rule. */
export const checkConsent = (consent: string): ConsentOutcome => {
  const core = consent.split(".")[0] ?? ""
  if (core.length === 0 || !/^[A-Za-z0-9_-]+$/.test(core)) return "invalid"
  const bytes = Buffer.from(core, "base64url")
  let bits = ""
  for (const byte of bytes) bits += byte.toString(2).padStart(8, "0")
  try {
    const r = new Bits(bits)
    if (r.read(6) !== 2) return "invalid"
    // created, last updated, CMP id/version, consent screen, language,
    // vendor list version, policy version, service specific, non-standard
    // texts, special feature opt-ins
    r.take(36 + 36 + 12 + 12 + 6 + 12 + 12 + 6 + 1 + 1 + 12)
    const purposes = r.take(24)
    const legitimate = r.take(24)
    r.take(1 + 12) // purpose one treatment, publisher country code
    const vendorConsent = vendorSection(r, VENDOR_ID)
    vendorSection(r, VENDOR_ID) // vendor legitimate interests: parsed for validity only
    const has = (field: string, purpose: number) => field[purpose - 1] === "1"
    const ok = vendorConsent &&
      CONSENT_PURPOSES.every((p) => has(purposes, p)) &&
      CONSENT_OR_LI_PURPOSES.every((p) => has(purposes, p) || has(legitimate, p))
    return ok ? "sufficient" : "insufficient"
  } catch {
    return "invalid"
  }
}
