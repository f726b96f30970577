// Command local runs the whole service on a laptop, in one process: an
// embedded store (or a real Redis, or a remote Upstash), the
// Upstash-compatible REST endpoint in front of it, and every function's API
// on one server. `make run` starts it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ai-rails/state-service/functions/localstack"
	"github.com/ai-rails/state-service/shared/observe"
)

func main() {
	localstack.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run starts the stack and serves until ctx ends or a server fails.
func run(ctx context.Context, lookup func(string) (string, bool), out, logOut io.Writer) error {
	cfg, err := localstack.ReadConfig(lookup)
	if err != nil {
		return err
	}
	logger, err := observe.NewLogger(logOut, cfg.Service.LogLevel)
	if err != nil {
		return err
	}
	s, err := localstack.Start(ctx, cfg, out, logger)
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.Err():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(shutCtx); err != nil && serveErr == nil {
		serveErr = err
	}
	fmt.Fprintln(out, "stopped")
	return serveErr
}
