// Verifies one delivery with the standardwebhooks library, as a receiver
// would. Reads JSON from stdin: {"secret": "whsec_...", "headers": {...},
// "body": "..."}. Prints "ok" and the payload's event, or the library's
// error, and exits 1 on a refusal.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, headers, body } = JSON.parse(input);
try {
  const payload = new Webhook(secret).verify(body, headers);
  console.log("ok " + payload.event);
} catch (e) {
  console.log("refused: " + e.message);
  process.exit(1);
}
