// Package localstack runs the whole service in one process: an embedded
// store (or a real Redis, or a remote Upstash), the Upstash-compatible REST
// endpoint in front of it, and every function's API on one server. The
// local command (`make run`) and the load test (`make bench`) start it.
package localstack
