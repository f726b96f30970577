// Package embedded is the local stack's default store: miniredis behind the
// Upstash REST server, made to keep time and to lose nothing.
//
//   - Time: the store's clock follows the wall clock, so TTLs run out and
//     TTL and PTTL count down, as on Redis.
//   - Durability: every unit of work that may write is appended to a journal
//     before its answer goes out (fsynced first under LOCAL_FSYNC=always),
//     stamped with the clock it ran at. A start replays the last snapshot
//     and the journal at their own times, so expiry times stay absolute
//     across a restart, then compacts them into a new snapshot and an empty
//     journal. A record torn by a crash mid-append is dropped.
//
// Redis's append-only file works the same way. The store serialises writes
// so that the journal's order is the order they ran in.
package embedded

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// Options configures a Store.
type Options struct {
	// Dir holds the snapshot and the journal. Required.
	Dir string
	// Token is the REST token clients must present. Required.
	Token string
	// Fsync is the journal's fsync policy. Default Always.
	Fsync Fsync
	// CompactBytes compacts the journal into a new snapshot once it is
	// larger than this and than the last snapshot. Default 64 MiB.
	CompactBytes int64
	// Logger receives the store's events. Default slog.Default().
	Logger *slog.Logger
	// Now is the wall clock. Default time.Now.
	Now func() time.Time
}

// Recovered says what a start read back.
type Recovered struct {
	SnapshotKeys   int64 // keys in the snapshot
	JournalRecords int64 // journal records replayed
	TornBytes      int64 // bytes of a torn last record, dropped
}

// Store is a running embedded store.
type Store struct {
	opts  Options
	mini  *miniredis.Miniredis
	rest  *restserver.Server
	clock *clock
	log   *slog.Logger

	// mu orders units: a write holds it alone, so the journal's order is the
	// order of execution; reads share it.
	mu      sync.RWMutex
	j       *journal
	gen     uint64
	snapLen int64
	scripts map[string]string // sha1 -> body, for EVALSHA to be journaled as EVAL
	// broken is set when a write ran but could not be journaled: memory and
	// disk then disagree, and the store refuses writes until a restart.
	broken error

	compacting sync.Mutex
	Recovered  Recovered
}

// Open starts the store in opts.Dir, replaying what is there.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded: Dir is required")
	}
	if opts.Fsync == "" {
		opts.Fsync = Always
	}
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	s := &Store{opts: opts, log: opts.Logger, scripts: map[string]string{}}
	s.mini = miniredis.NewMiniRedis()
	// Only the REST server may reach miniredis: a write that came any other
	// way would miss the journal.
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	s.mini.RequireAuth(hex.EncodeToString(pw))
	s.clock = newClock(s.mini, opts.Now)
	if err := s.mini.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded: start miniredis: %w", err)
	}
	var err error
	// No timeouts between the REST server and miniredis: a write that ran
	// must be journaled, and one given up on half-way could not be.
	s.rest, err = restserver.New(restserver.Options{
		RedisURL: "redis://:" + hex.EncodeToString(pw) + "@" + s.mini.Addr() + "/0?read_timeout=-2&write_timeout=-2&pool_size=64",
		Token:    opts.Token, Logger: opts.Logger, Gate: s,
	})
	if err != nil {
		s.mini.Close()
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		s.rest.Close()
		s.mini.Close()
		return nil, err
	}
	return s, nil
}

// Handler is the Upstash REST endpoint.
func (s *Store) Handler() http.Handler { return s.rest }

// Redis is the REST server's go-redis client. What it writes bypasses the
// journal: use it to read.
func (s *Store) Redis() *redis.Client { return s.rest.Redis() }

// Run implements restserver.Gate.
func (s *Store) Run(ctx context.Context, u restserver.Unit, exec func(context.Context) error) error {
	if readOnly(u) {
		s.mu.RLock()
		s.clock.tick()
		err := exec(ctx)
		j := s.j
		seq := j.last() // a write this read may have seen
		s.mu.RUnlock()
		if err != nil {
			return err
		}
		return j.wait(seq)
	}
	s.mu.Lock()
	if s.broken != nil {
		s.mu.Unlock()
		return s.broken
	}
	at := s.clock.tick()
	rec := s.record(u, at)
	// A write, once sent, runs to its end whatever the client does: it
	// must be journaled as it ran.
	err := exec(context.WithoutCancel(ctx))
	var seq uint64
	if err == nil {
		seq, err = s.j.append(rec)
	}
	if err != nil {
		s.broken = fmt.Errorf("embedded: a write could not be journaled, so the store takes no more writes; restart it: %w", err)
		s.log.Error("embedded store broken", "error", err)
		s.mu.Unlock()
		return err
	}
	j, snapLen := s.j, s.snapLen // compaction changes both, under mu
	s.mu.Unlock()
	if err := j.wait(seq); err != nil {
		return err
	}
	if n := j.bytes(); n > s.opts.CompactBytes && n > snapLen {
		go s.compactInBackground()
	}
	return nil
}

// compactInBackground compacts, unless a compaction is already running.
func (s *Store) compactInBackground() {
	if !s.compacting.TryLock() {
		return
	}
	defer s.compacting.Unlock()
	if err := s.compact(); err != nil {
		s.log.Error("embedded: compaction", "error", err)
	}
}

// record turns a unit into its journal record. EVALSHA is journaled as
// EVAL, so that a replay does not depend on a script cache. Called with mu
// held.
func (s *Store) record(u restserver.Unit, at int64) record {
	cmds, copied := u.Cmds, false
	for i, cmd := range u.Cmds {
		if len(cmd) < 2 {
			continue
		}
		switch strings.ToUpper(cmd[0]) {
		case "EVAL":
			s.scripts[sha1hex(cmd[1])] = cmd[1]
		case "SCRIPT":
			switch strings.ToUpper(cmd[1]) {
			case "LOAD":
				if len(cmd) > 2 {
					s.scripts[sha1hex(cmd[2])] = cmd[2]
				}
			case "FLUSH":
				clear(s.scripts)
			}
		case "EVALSHA":
			if body, ok := s.scripts[strings.ToLower(cmd[1])]; ok {
				if !copied {
					cmds, copied = slices.Clone(u.Cmds), true
				}
				cmds[i] = append([]string{"EVAL", body}, cmd[2:]...)
			}
		}
	}
	return record{Kind: kind(u.Kind), At: at, Cmds: cmds}
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// Close compacts the store into a snapshot and stops it.
func (s *Store) Close() error {
	err := s.Compact()
	s.mu.Lock()
	if s.broken == nil {
		s.broken = errors.New("embedded: store closed")
	}
	s.mu.Unlock()
	err = errors.Join(err, s.j.close(), s.rest.Close())
	s.mini.Close()
	return err
}

func (s *Store) snapshotPath() string { return filepath.Join(s.opts.Dir, "store.snapshot") }

func (s *Store) journalPath(gen uint64) string {
	return filepath.Join(s.opts.Dir, fmt.Sprintf("store.%016d.journal", gen))
}
