// Command benchserve runs the servers that make bench starts as processes of
// their own, so that it can measure each one's CPU:
//
//	benchserve rest   the Upstash-compatible REST server over REDIS_URL, on
//	                  BENCH_ADDR, with REST_TOKEN; GET /__requests (with the
//	                  token) answers how many requests it has served
//	benchserve bare   the bare path on BENCH_ADDR: a minimal handler that
//	                  reads a JSON body, makes one script call through our
//	                  Upstash client (UPSTASH_REDIS_REST_URL and _TOKEN) and
//	                  writes the reply; no validation, problem+json, metrics
//	                  or logs. It is the reference the service is held to.
//	                  Its keys start with KEY_PREFIX and "bare:".
//
// Both print "listening <url>" on stdout once they serve, and serve
// net/http/pprof on BENCH_PPROF_ADDR when it is set.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/ai-rails/state-service/functions/localstack"
)

func main() {
	localstack.TuneGC() // as the local stack does, so that the two compare
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, env func(string) string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchserve rest|bare")
	}
	var h http.Handler
	var err error
	switch args[0] {
	case "rest":
		h, err = newREST(env("REDIS_URL"), env("REST_TOKEN"))
	case "bare":
		h, err = newBare(env("UPSTASH_REDIS_REST_URL"), env("UPSTASH_REDIS_REST_TOKEN"), env("KEY_PREFIX"))
	default:
		err = fmt.Errorf("unknown server %q: want rest or bare", args[0])
	}
	if err != nil {
		return err
	}
	if addr := env("BENCH_PPROF_ADDR"); addr != "" {
		_, url, err := localstack.ServePprof(addr)
		if err != nil {
			return fmt.Errorf("BENCH_PPROF_ADDR: %w", err)
		}
		fmt.Printf("pprof %s/debug/pprof/\n", url)
	}
	l, err := net.Listen("tcp", env("BENCH_ADDR"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("listening http://%s\n", l.Addr())
	if err := srv.Serve(l); err != http.ErrServerClosed {
		return err
	}
	return nil
}
