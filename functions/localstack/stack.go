package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/embedded"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/mcpserver"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/openapi"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/restserver"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
	"github.com/ai-rails/state-service/shared/wiring"
)

// Stack is the running local stack: a store, the Upstash-compatible REST
// endpoint in front of it, and every function's API on one server.
type Stack struct {
	APIURL  string
	RESTURL string // empty when a remote Upstash is used
	// VectorURL is the local Upstash-Vector-compatible endpoint; empty when
	// a remote index is used.
	VectorURL string
	// PprofURL serves the profiles when LOCAL_PPROF_ADDR is set.
	PprofURL string
	Store    string // "embedded", "redis" or "upstash"
	Client   *upstash.Client
	// Clients are the API's clients (API_KEY's default, and API_KEYS's),
	// with their scopes.
	Clients []access.Client

	apiSrv   *http.Server
	restSrv  *http.Server
	pprofSrv *http.Server
	rest     *restserver.Server
	// vector is the failure memory's index, served on VectorURL.
	vector    *vectorserver.Server
	vectorSrv *http.Server
	// embedded is the default store: miniredis with a clock and a journal.
	embedded *embedded.Store
	// counters are the request metrics, flushed with a store call at most
	// every METRICS_FLUSH_INTERVAL, and at shutdown.
	counters *metrics.Counters
	// restRequests counts the requests the REST endpoint has served.
	restRequests atomic.Int64
	errc         chan error

	cfg     Config
	keys    keys.Schema
	log     *slog.Logger
	sweeper *sweep.Sweeper
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
	downErr error
	// Restored is what the start read back from the embedded store's
	// snapshot and journal.
	Restored embedded.Recovered
	// Migrated is what the start restored from a snapshot of the old kind.
	Migrated backup.Summary
}

// LegacySnapshotName is where the embedded store was saved, on shutdown
// only, before it kept a journal. A start restores it once, then renames it
// with a ".migrated" suffix.
const LegacySnapshotName = "snapshot.jsonl.gz"

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
	// The API's listener is opened first, so that callbacks can be kept
	// from reaching it (and the REST endpoint) before anything runs.
	apiL, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("LOCAL_ADDR: %w", err)
	}
	defer func() {
		if s.apiSrv == nil {
			apiL.Close()
		}
	}()
	own := []netip.AddrPort{apiL.Addr().(*net.TCPAddr).AddrPort()}
	if cfg.PprofAddr != "" {
		if s.pprofSrv, s.PprofURL, err = ServePprof(cfg.PprofAddr); err != nil {
			return fmt.Errorf("LOCAL_PPROF_ADDR: %w", err)
		}
	}

	svcCfg := cfg.Service
	if svcCfg.Approvals.PublicBaseURL == "http://"+cfg.Addr {
		// The default: the API's own address, as bound (LOCAL_ADDR may
		// name port 0).
		svcCfg.Approvals.PublicBaseURL = "http://" + apiL.Addr().String()
	}
	switch {
	case cfg.Remote():
		s.Store = "upstash"
	default:
		var rest http.Handler
		if cfg.RedisURL == "" {
			s.Store = "embedded"
			s.embedded, err = embedded.Open(ctx, embedded.Options{Dir: cfg.DataDir, Token: cfg.RESTToken, Fsync: cfg.Fsync, Logger: logger})
			if err != nil {
				return fmt.Errorf("start the embedded store: %w", err)
			}
			s.Restored = s.embedded.Recovered
			rest = s.embedded.Handler()
		} else {
			s.Store = "redis"
			s.rest, err = restserver.New(restserver.Options{RedisURL: cfg.RedisURL, Token: cfg.RESTToken, Logger: logger})
			if err != nil {
				return err
			}
			if err := s.rest.Redis().Ping(ctx).Err(); err != nil {
				return fmt.Errorf("reach Redis at REDIS_URL: %w", err)
			}
			rest = s.rest
		}
		count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.restRequests.Add(1)
			rest.ServeHTTP(w, r)
		})
		restL, err := net.Listen("tcp", cfg.RESTAddr)
		if err != nil {
			return fmt.Errorf("LOCAL_REST_ADDR: %w", err)
		}
		own = append(own, restL.Addr().(*net.TCPAddr).AddrPort())
		s.restSrv, s.RESTURL = s.serve(restL, count)
		svcCfg.Store.URL, svcCfg.Store.Token = s.RESTURL, cfg.RESTToken
	}

	if !cfg.RemoteVector() {
		s.vector, err = vectorserver.New(vectorserver.Options{Token: cfg.VectorToken, Dimension: failures.Dimension,
			Embed: failures.Embed, Dir: filepath.Join(cfg.DataDir, "vector"), Fsync: cfg.Fsync, Logger: logger})
		if err != nil {
			return fmt.Errorf("start the vector index: %w", err)
		}
		vecL, err := net.Listen("tcp", cfg.VectorAddr)
		if err != nil {
			return fmt.Errorf("LOCAL_VECTOR_ADDR: %w", err)
		}
		own = append(own, vecL.Addr().(*net.TCPAddr).AddrPort())
		s.vectorSrv, s.VectorURL = s.serve(vecL, s.vector)
		svcCfg.Memory.VectorURL, svcCfg.Memory.VectorToken = s.VectorURL, cfg.VectorToken
	}

	// The service is wired as every entry point wires it.
	svc, err := wiring.Build(ctx, svcCfg, wiring.Options{Function: "local", Logger: logger, MCP: mcpserver.FromHandlers,
		Backend: map[string]string{"embedded": health.BackendLocal, "redis": health.BackendRedis, "upstash": health.BackendUpstash}[s.Store]})
	if err != nil {
		return err
	}
	s.Client, s.counters, s.keys, s.sweeper = svc.Client, svc.Metrics, svc.Keys, svc.Sweeper
	if svc.Keyring != nil {
		s.Clients = svc.Keyring.Clients()
	}
	// Callbacks may not reach the stack's own listeners.
	svc.Guard.Own = own
	if s.embedded != nil {
		if err := s.migrateSnapshot(ctx); err != nil {
			return err
		}
	}
	// Every route, and GET /api/openapi.json, which only the local stack
	// serves.
	svc.HTTP.Extra = map[string]http.Handler{"GET /api/openapi.json": openapi.Handler()}
	h := svc.Handler()
	s.apiSrv, s.APIURL = s.serve(apiL, h)
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

func (s *Stack) legacySnapshotPath() string { return filepath.Join(s.cfg.DataDir, LegacySnapshotName) }

// migrateSnapshot restores a snapshot left by a version of the stack that
// saved the store only on shutdown, through the journal, then renames it so
// that it is restored once.
func (s *Stack) migrateSnapshot(ctx context.Context) error {
	path := s.legacySnapshotPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	sum, err := backup.Restore(ctx, s.Client, open, backup.RestoreOptions{})
	if err != nil {
		return fmt.Errorf("restore the old snapshot %s: %w (move it away to start without it)", path, err)
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return err
	}
	s.Migrated = sum
	s.log.Info("old snapshot restored into the journaled store", "path", path, "summary", sum.String())
	return nil
}

// serve serves h on l in the background.
func (s *Stack) serve(l net.Listener, h http.Handler) (*http.Server, string) {
	srv := httpkit.NewServer(h, s.cfg.Timeouts)
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return srv, "http://" + l.Addr().String()
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
	}
	if s.restSrv != nil {
		errs = append(errs, s.restSrv.Shutdown(ctx))
	}
	if s.vectorSrv != nil {
		errs = append(errs, s.vectorSrv.Shutdown(ctx))
	}
	if s.pprofSrv != nil {
		errs = append(errs, s.pprofSrv.Close())
	}
	if s.vector != nil {
		errs = append(errs, s.vector.Close())
	}
	if s.rest != nil {
		errs = append(errs, s.rest.Close())
	}
	if s.embedded != nil {
		// Every write is in the journal already; closing compacts it.
		errs = append(errs, s.embedded.Close())
	}
	return errors.Join(errs...)
}

func (s *Stack) printBanner(out io.Writer, cfg Config) {
	var b strings.Builder
	fmt.Fprintf(&b, "AI Rails state service, local stack\n\n")
	fmt.Fprintf(&b, "  API            %s\n", s.APIURL)
	fmt.Fprintf(&b, "  MCP            %s/mcp (claude mcp add --transport http ai-rails %s/mcp --header \"x-api-key: <key>\")\n", s.APIURL, s.APIURL)
	fmt.Fprintf(&b, "  x-api-key      %s (client default, every scope)\n", cfg.APIKey)
	for _, c := range s.Clients {
		if c.Name != access.Default {
			// Never their keys: API_KEYS holds them.
			fmt.Fprintf(&b, "  client         %s: %s (key in API_KEYS)\n", c.Name, scopeList(c.Scopes))
		}
	}
	switch s.Store {
	case "upstash":
		fmt.Fprintf(&b, "  store          Upstash at %s\n", cfg.Service.Store.URL)
	default:
		what := fmt.Sprintf("embedded (miniredis, journaled in %s, LOCAL_FSYNC=%s)", cfg.DataDir, cfg.Fsync)
		if s.Store == "redis" {
			what = "Redis at REDIS_URL"
		}
		fmt.Fprintf(&b, "  store          %s\n", what)
		fmt.Fprintf(&b, "  Upstash REST   %s\n", s.RESTURL)
		fmt.Fprintf(&b, "  REST token     %s\n", cfg.RESTToken)
	}
	if s.VectorURL != "" {
		fmt.Fprintf(&b, "  Upstash Vector %s (failure memory, %d dimensions, cosine)\n", s.VectorURL, failures.Dimension)
		fmt.Fprintf(&b, "  vector token   %s\n", cfg.VectorToken)
	} else {
		fmt.Fprintf(&b, "  Upstash Vector %s\n", cfg.Service.Memory.VectorURL)
	}
	if s.PprofURL != "" {
		fmt.Fprintf(&b, "  pprof          %s/debug/pprof/\n", s.PprofURL)
	}
	fmt.Fprintf(&b, "  webhook secret in %s/secrets.json (WEBHOOK_SECRET)\n", cfg.DataDir)
	fmt.Fprintf(&b, "  callback JWT   secret in %s/secrets.json (callback_jwt_secret): for n8n's Wait nodes, a JWT Auth credential, passphrase, HS256\n", cfg.DataDir)
	fmt.Fprintf(&b, "  data           %s (backups every %s in %s; sweep every %s)\n", cfg.DataDir, cfg.BackupInterval, cfg.BackupDir, cfg.SweepInterval)
	if r := s.Restored; r.SnapshotKeys > 0 || r.JournalRecords > 0 {
		fmt.Fprintf(&b, "  restored       %d keys from the snapshot, %d writes from the journal\n", r.SnapshotKeys, r.JournalRecords)
	}
	if s.Migrated.Keys > 0 {
		fmt.Fprintf(&b, "  migrated       %s from %s\n", s.Migrated, s.legacySnapshotPath())
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

// scopeList is scopes as the banner prints them.
func scopeList(scopes []access.Scope) string {
	out := make([]string, len(scopes))
	for i, sc := range scopes {
		out[i] = string(sc)
	}
	return strings.Join(out, ", ")
}
