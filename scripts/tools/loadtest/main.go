// Command loadtest is `make bench`: it starts the local stack in this process
// over a real Redis (REDIS_URL, or a redis-server it starts itself), drives a
// mixed n8n-like workload through the HTTP API, and measures what the
// service costs: throughput, latency, Upstash requests and Redis commands
// per call, Redis bytes per workflow, the ceiling that Redis itself sets,
// a 100k-key backup, and the Lambda binaries' cold start.
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
