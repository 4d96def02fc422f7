// The Promise facade against `npx uid2 operator` (its --json start-up line is argv[2]): a publisher
// generates a token, a DSP decrypts it (keys kept in a file key store), an advertiser maps the same email;
// the decrypted raw UID must be the mapped one.
import * as FileKeyStore from "effect-uid2/adapters/file"
import { createBidstreamClient, createIdentityMapClient, createPublisherClient } from "effect-uid2/promise"
import { mkdtempSync, readdirSync } from "node:fs"
import { join } from "node:path"

const operator = JSON.parse(process.argv[2])
const fail = (message) => {
  console.error(`promise: ${message}`)
  process.exit(1)
}
const credentials = (role) => {
  const client = operator.clients.find((c) => c.role === role)
  if (client === undefined) fail(`the operator lists no ${role} client`)
  return { baseUrl: operator.baseUrl, apiKey: client.apiKey, secretKey: client.secretKey, logLevel: "None" }
}
const email = "consumer@example.com"
// Inside the project, which the consumer test removes whatever happens.
const keys = mkdtempSync(join(process.cwd(), "keys-"))
const publisher = await createPublisherClient(credentials("publisher"))
const generated = await publisher.generateToken({ email })
await publisher.close()
if (generated.status !== "success") fail(`generate: ${generated.status}`)

const dsp = await createBidstreamClient({
  ...credentials("dsp"),
  keyStore: FileKeyStore.layer({ directory: keys })
})
const decrypted = dsp.decrypt(generated.advertisingToken, "publisher.example")
const garbage = dsp.decrypt("not a token")
if (dsp.crypto !== "native") fail(`the DSP client runs on ${dsp.crypto}, not the prebuilt native addon`)
await dsp[Symbol.asyncDispose]()
if (!decrypted.ok) fail(`decrypt: ${decrypted.reason}: ${decrypted.message}`)
if (garbage.ok) fail("decrypt accepted garbage")
if (!readdirSync(keys).some((name) => name.endsWith(".json"))) fail("the file key store saved no ring")

const mapper = await createIdentityMapClient(credentials("advertiser"))
const mapped = []
for await (const result of mapper.map([{ email }])) mapped.push(result)
await mapper.close()
if (mapped[0]?.status !== "mapped") fail(`map: ${JSON.stringify(mapped)}`)
if (mapped[0].currentRawUid !== decrypted.uid) fail("the decrypted raw UID is not the mapped one")

console.log(
  `promise: publisher token (v${decrypted.version}, site ${decrypted.siteId}) decrypted by the DSP to the raw UID ` +
    `the advertiser maps ${email} to; garbage: ${garbage.reason}`
)
