/**
 * `/v2/optout/status` of the test operator: which of the given raw UID2s
 * belong to opted-out identities, and since when. Private to the test kit.
 */
import type { Client } from "./clients.js"
import type { Identities } from "./identities.js"
import { type Answer, clientError, isRecord, success } from "./protocol.js"

/** Largest opt-out status request. */
const MAX_IDS = 5_000

/** The opt-out status handler over an operator's identities. */
export const makeOptOutEndpoint =
  (identities: Identities) => (_client: Client, payload: unknown, nowMs: number): Answer => {
    const ids = isRecord(payload) ? payload["advertising_ids"] : undefined
    if (ids === undefined || ids === null) return clientError("Required Parameter Missing: advertising_ids")
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== "string")) {
      return clientError("Incorrect request format: advertising_ids must be an array of strings")
    }
    if (ids.length > MAX_IDS) return clientError(`Request too large: at most ${MAX_IDS} advertising_ids per request`)
    const optedOut = identities.optedOutRawUids(nowMs)
    const listed = new Set<string>()
    const opted_out: Array<{ readonly advertising_id: string; readonly opted_out_since: number }> = []
    for (const id of ids as ReadonlyArray<string>) {
      const since = optedOut.get(id)
      if (since !== undefined && !listed.has(id)) {
        listed.add(id)
        opted_out.push({ advertising_id: id, opted_out_since: since })
      }
    }
    return success({ opted_out })
  }
