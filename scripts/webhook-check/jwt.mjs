// Verifies a callback's Authorization: Bearer JWT with the jsonwebtoken
// library, as n8n's Wait node (JWT auth, HS256 passphrase) does. Reads JSON
// from stdin: {"secret": "...", "token": "..."}. Prints "ok" and the
// claims, or the library's error, and exits 1 on a refusal.
import jwt from "jsonwebtoken";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, token } = JSON.parse(input);
try {
  const claims = jwt.verify(token, secret, { algorithms: ["HS256"], issuer: "ai-rails-state-service" });
  console.log("ok " + JSON.stringify(claims));
} catch (e) {
  console.log("refused: " + e.message);
  process.exit(1);
}
