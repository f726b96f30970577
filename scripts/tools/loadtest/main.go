// Command loadtest is `make bench`. It runs each part in a process of its
// own: redis-server (REDIS_URL, or one it starts), the Upstash-compatible
// REST server over it, the API (the local stack over that REST server, with
// no embedded store) and the bare path (benchserve bare: one script call per
// request through our Upstash client, and nothing else), and is itself the
// load generator. It drives a mixed n8n-like workload at the service and at
// the bare path in turn, and reports each process's CPU per call (from
// /proc/<pid>/stat), throughput and latency, the service against the bare
// path as ratios, Upstash requests and Redis commands per call and per
// route, Redis bytes per workflow and per idempotency record, Redis's own
// ceiling (redis-benchmark), a 100k-key backup, and the Lambda binaries'
// sizes, cold starts and package init.
//
// It prints a markdown table and writes the figures as JSON to BENCH_OUT
// (default bench/results.json). Nothing in it is a pass or fail: it measures.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ai-rails/state-service/functions/localstack"
)

func main() {
	localstack.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := readSettings(os.LookupEnv)
	if err == nil {
		err = run(ctx, s, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
