package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpapi"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/openapi"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/restserver"
	"github.com/ai-rails/state-service/shared/workflow"
)

// Stack is the running local stack: a store, the Upstash-compatible REST
// endpoint in front of it, and every function's API on one server.
type Stack struct {
	APIURL  string
	RESTURL string // empty when a remote Upstash is used
	Store   string // "embedded", "redis" or "upstash"
	Client  *upstash.Client

	apiSrv  *http.Server
	restSrv *http.Server
	rest    *restserver.Server
	// counters are the request metrics, flushed with a store call at most
	// every METRICS_FLUSH_INTERVAL, and at shutdown.
	counters *metrics.Counters
	// restRequests counts the requests the REST endpoint has served.
	restRequests atomic.Int64
	mini         *miniredis.Miniredis
	errc         chan error

	cfg     Config
	keys    keys.Schema
	log     *slog.Logger
	sweeper *sweep.Sweeper
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
	downErr error
	// Restored is what the start restored from the last snapshot.
	Restored backup.Summary
}

// SnapshotName is the embedded store's snapshot in DATA_DIR, written on
// shutdown and restored on start, in the backup format.
const SnapshotName = "snapshot.jsonl.gz"

// Start brings the stack up and prints how to reach it to out.
func Start(ctx context.Context, cfg Config, out io.Writer, logger *slog.Logger) (*Stack, error) {
	s := &Stack{errc: make(chan error, 2), cfg: cfg, log: logger, done: make(chan struct{})}
	if err := s.start(ctx, cfg, logger); err != nil {
		_ = s.Shutdown(context.Background())
		return nil, err
	}
	s.printBanner(out, cfg)
	return s, nil
}

func (s *Stack) start(ctx context.Context, cfg Config, logger *slog.Logger) error {
	var err error

	storeURL, token := cfg.UpstashURL, cfg.UpstashToken
	switch {
	case cfg.UpstashURL != "":
		s.Store = "upstash"
	default:
		redisURL := cfg.RedisURL
		s.Store = "redis"
		if redisURL == "" {
			s.mini = miniredis.NewMiniRedis()
			if err := s.mini.StartAddr("127.0.0.1:0"); err != nil {
				return fmt.Errorf("start embedded store: %w", err)
			}
			redisURL = "redis://" + s.mini.Addr() + "/0"
			s.Store = "embedded"
		}
		s.rest, err = restserver.New(restserver.Options{RedisURL: redisURL, Token: cfg.RESTToken, Logger: logger})
		if err != nil {
			return err
		}
		if err := s.rest.Redis().Ping(ctx).Err(); err != nil {
			return fmt.Errorf("reach Redis at REDIS_URL: %w", err)
		}
		count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.restRequests.Add(1)
			s.rest.ServeHTTP(w, r)
		})
		s.restSrv, s.RESTURL, err = s.serve(cfg.RESTAddr, count)
		if err != nil {
			return fmt.Errorf("LOCAL_REST_ADDR: %w", err)
		}
		storeURL, token = s.RESTURL, cfg.RESTToken
	}

	schema, err := keys.New(cfg.KeyPrefix)
	if err != nil {
		return err
	}
	s.counters = metrics.NewCounters(schema, nil, cfg.MetricsFlushInterval)
	counters := s.counters
	opts := upstash.Options{URL: storeURL, Token: token, Logger: logger}
	metrics.Instrument(&opts, counters)
	s.Client, err = upstash.New(opts)
	if err != nil {
		return err
	}
	backend := health.BackendLocal
	if s.Store == "upstash" {
		backend = health.BackendUpstash
	}
	s.keys = schema
	if s.mini != nil {
		if err := s.restoreSnapshot(ctx); err != nil {
			return err
		}
	}
	approvals := api.NewApprovals(cfg.Approvals, cfg.WebhookSecret, nil)
	s.sweeper = sweep.New(s.Client, schema,
		approval.NewStore(s.Client, schema, approval.Config{Retention: approvals.Retention, Deliverer: approvals.Deliverer, Logger: logger}),
		nil, logger, nil)
	h := api.Handler(api.Deps{Store: s.Client, Keys: schema, Logger: logger, Backend: backend, APIKey: cfg.APIKey, Metrics: counters,
		Approvals: approvals},
		workflow.Mount, lock.Mount, approval.Mount, results.Mount, serveOpenAPI)
	s.apiSrv, s.APIURL, err = s.serve(cfg.Addr, h)
	if err != nil {
		return fmt.Errorf("LOCAL_ADDR: %w", err)
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.background(bg)
	return nil
}

// background sweeps every SWEEP_INTERVAL and backs up every
// BACKUP_INTERVAL, until ctx ends.
func (s *Stack) background(ctx context.Context) {
	defer close(s.done)
	sweepT := time.NewTicker(s.cfg.SweepInterval)
	backupT := time.NewTicker(s.cfg.BackupInterval)
	defer sweepT.Stop()
	defer backupT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweepT.C:
			if _, err := s.sweeper.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("local sweep", "error", err)
			}
		case <-backupT.C:
			if m, err := backup.Backup(ctx, s.Client, s.keys, backup.Dir(s.cfg.BackupDir), nil); err != nil {
				s.log.Error("local backup", "error", err)
			} else {
				s.log.Info("local backup written", "location", m.Location, "keys", m.Keys)
			}
		}
	}
}

func (s *Stack) snapshotPath() string { return filepath.Join(s.cfg.DataDir, SnapshotName) }

// restoreSnapshot loads the last snapshot into the empty embedded store.
func (s *Stack) restoreSnapshot(ctx context.Context) error {
	path := s.snapshotPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	sum, err := backup.Restore(ctx, s.Client, open, backup.RestoreOptions{Force: true})
	if err != nil {
		return fmt.Errorf("restore the snapshot %s: %w (move it away to start empty)", path, err)
	}
	s.Restored = sum
	s.log.Info("snapshot restored", "path", path, "summary", sum.String())
	return nil
}

// snapshot writes the embedded store to DATA_DIR, replacing the last one
// only once the new one is complete.
func (s *Stack) snapshot(ctx context.Context) error {
	_, err := backup.Dir(s.cfg.DataDir).Put(ctx, SnapshotName, func(w io.Writer) error {
		_, err := backup.Dump(ctx, s.Client, s.keys, w, nil)
		return err
	})
	return err
}

// serveOpenAPI mounts GET /api/openapi.json, which only the local stack
// serves.
func serveOpenAPI(rt *httpapi.Router, _ api.Deps) {
	rt.Handle("GET /api/openapi.json", openapi.Handler())
}

// serve listens on addr and serves h in the background.
func (s *Stack) serve(addr string, h http.Handler) (*http.Server, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return srv, "http://" + l.Addr().String(), nil
}

// RESTRequests is the number of requests the local REST endpoint has
// served: the Upstash requests the API made, as Upstash would count them.
func (s *Stack) RESTRequests() int64 { return s.restRequests.Load() }

// Err delivers a server's failure.
func (s *Stack) Err() <-chan error { return s.errc }

// Shutdown stops the API and the background work first, snapshots the
// embedded store, then stops the REST endpoint and the store, letting
// requests in flight finish until ctx ends.
func (s *Stack) Shutdown(ctx context.Context) error {
	s.once.Do(func() { s.downErr = s.shutdown(ctx) })
	return s.downErr
}

func (s *Stack) shutdown(ctx context.Context) error {
	var errs []error
	if s.apiSrv != nil {
		errs = append(errs, s.apiSrv.Shutdown(ctx))
	}
	if s.stop != nil {
		s.stop()
		<-s.done
		if len(s.counters.Pending()) > 0 {
			// The last counts ride on a PING, as GET /api/metrics would carry them.
			if _, err := s.Client.Do(metrics.Flush(ctx), "PING"); err != nil {
				errs = append(errs, fmt.Errorf("flush metrics: %w", err))
			}
		}
		if s.mini != nil {
			if err := s.snapshot(ctx); err != nil {
				errs = append(errs, fmt.Errorf("snapshot: %w", err))
			} else {
				s.log.Info("snapshot written", "path", s.snapshotPath())
			}
		}
	}
	if s.rest != nil {
		errs = append(errs, s.rest.Close())
	}
	if s.restSrv != nil {
		errs = append(errs, s.restSrv.Shutdown(ctx))
	}
	if s.mini != nil {
		s.mini.Close()
	}
	return errors.Join(errs...)
}

func (s *Stack) printBanner(out io.Writer, cfg Config) {
	var b strings.Builder
	fmt.Fprintf(&b, "AI Rails state service, local stack\n\n")
	fmt.Fprintf(&b, "  API            %s\n", s.APIURL)
	fmt.Fprintf(&b, "  x-api-key      %s\n", cfg.APIKey)
	switch s.Store {
	case "upstash":
		fmt.Fprintf(&b, "  store          Upstash at %s\n", cfg.UpstashURL)
	default:
		what := "embedded (miniredis)"
		if s.Store == "redis" {
			what = "Redis at REDIS_URL"
		}
		fmt.Fprintf(&b, "  store          %s\n", what)
		fmt.Fprintf(&b, "  Upstash REST   %s\n", s.RESTURL)
		fmt.Fprintf(&b, "  REST token     %s\n", cfg.RESTToken)
	}
	fmt.Fprintf(&b, "  webhook secret %s\n", cfg.WebhookSecret)
	fmt.Fprintf(&b, "  data           %s (backups every %s in %s; sweep every %s)\n", cfg.DataDir, cfg.BackupInterval, cfg.BackupDir, cfg.SweepInterval)
	if s.Restored.Keys > 0 {
		fmt.Fprintf(&b, "  restored       %s from %s\n", s.Restored, s.snapshotPath())
	}
	if len(cfg.Generated) > 0 {
		fmt.Fprintf(&b, "  (%s generated and kept in %s/secrets.json)\n", strings.Join(cfg.Generated, ", "), cfg.DataDir)
	}
	fmt.Fprintf(&b, "\nTry it:\n  curl -s -H 'x-api-key: %s' %s/api/health\n", cfg.APIKey, s.APIURL)
	if s.RESTURL != "" {
		fmt.Fprintf(&b, "  curl -s -H 'Authorization: Bearer %s' %s/ping\n", cfg.RESTToken, s.RESTURL)
	}
	fmt.Fprintf(&b, "\nCtrl-C stops it.\n")
	_, _ = io.WriteString(out, b.String())
}
