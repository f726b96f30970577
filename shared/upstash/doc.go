// Package upstash is a client for the Upstash Redis REST API.
//
// There is no official Go client, so this one follows the official TypeScript
// SDK (upstash/redis-js) where the protocol leaves a choice open:
//
//   - every request asks for base64 answers (Upstash-Encoding: base64), and the
//     answers are decoded, nested arrays included, so binary values survive;
//   - the read-your-writes token (upstash-sync-token) is carried from each
//     answer to the next request;
//   - scripts run with EVALSHA and fall back to EVAL on NOSCRIPT;
//   - pipelines are split into batches of at most 1000 commands.
//
// Beyond the SDK, every call carries a deadline, retries use exponential
// backoff with jitter and happen only where a retry cannot apply a write twice,
// and a circuit breaker makes calls fail fast while the store is down. Failures
// of the store itself wrap ErrUnavailable, which the HTTP layer answers with 503.
//
// The token never appears in errors, logs or String output.
package upstash
