// Command chaos is `make chaos`: it runs the local stack over a durable
// redis-server (append-only file, fsync always), with a fault proxy between
// the API and the Upstash REST endpoint, drives concurrent n8n-like writers,
// kills Redis with kill -9 and restarts it, and injects REST faults: added
// latency, 5xx answers, connections cut before and after the server applied
// a request, and an upstream that never answers.
//
// It then checks, and prints: that every acknowledged write reads back
// after a final crash, that outages answer 503 with Retry-After and never
// 500 or hang past the deadline, that the circuit opens and closes again,
// that no approval is decided twice, that workflow versions are neither
// skipped nor repeated, and that no goroutine is left behind. It exits 1 if
// any check fails.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// countingLog is a go-redis logger that counts its lines.
type countingLog struct{ n atomic.Int64 }

func (c *countingLog) Printf(context.Context, string, ...any) { c.n.Add(1) }

var redisLog = &countingLog{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs each failed dial while Redis is down, which is the
	// point of the run; the report counts them instead.
	redis.SetLogger(redisLog)
	s, err := readSettings(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	rep, err := run(ctx, s, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	rep.print(os.Stdout)
	if fails := rep.failures(); len(fails) > 0 {
		fmt.Println("\nFAILED:")
		for _, f := range fails {
			fmt.Println("  -", f)
		}
		os.Exit(1)
	}
	fmt.Println("\nPASSED")
}
