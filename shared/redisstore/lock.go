package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed lock_acquire.lua
	acquireLua string
	//go:embed lock_extend.lua
	extendLua string
	//go:embed lock_release.lua
	releaseLua string

	acquireScript = idempotency.Wrap(storekit.Script(acquireLua))
	extendScript  = idempotency.Wrap(storekit.Script(extendLua))
	releaseScript = idempotency.Wrap(storekit.Script(releaseLua))
)

var _ lock.Service = (*Locks)(nil)

// Locks takes, extends and releases locks, one round trip each: the
// lock.Service. A lock is a key holding its holder's token, taken with SET NX
// PX, and extended or released only by a script that compares the token.
type Locks struct {
	c    *upstash.Client
	keys keys.Schema
	now  func() time.Time
}

// NewLocks returns Locks; now nil means time.Now.
func NewLocks(c *upstash.Client, k keys.Schema, now func() time.Time) *Locks {
	if now == nil {
		now = time.Now
	}
	return &Locks{c: c, keys: k, now: now}
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// expiry formats a script's expiry time (Unix ms).
func lockExpiry(ms string) string {
	n, _ := strconv.ParseInt(ms, 10, 64)
	return jsondoc.FormatTime(time.UnixMilli(n))
}

func lockHeld(id keys.LockID, ms string) error {
	return apperr.New(apperr.Conflict, "lock %s is held by someone else", id).With("expires_at", lockExpiry(ms))
}

// Acquire takes the lock for ttl, or answers conflict with when it frees.
func (s *Locks) Acquire(ctx context.Context, id keys.LockID, owner string, ttl time.Duration) (lock.Lock, error) {
	res, err := upstash.Strings(acquireScript.Run(ctx, s.c, []string{s.keys.LockKey(id)},
		storekit.Args{"token", newToken(), "ttl_ms", ttl.Milliseconds(), "now_ms", s.now().UnixMilli()}...))
	if err != nil {
		return lock.Lock{}, fmt.Errorf("acquire lock %s: %w", id, err)
	}
	if res[0] != "ok" {
		return lock.Lock{}, lockHeld(id, res[1])
	}
	return lock.Lock{ResourceID: id.String(), Owner: owner, Token: res[1], ExpiresAt: lockExpiry(res[2])}, nil
}

// Extend sets the lock's TTL again, for the holder of token.
func (s *Locks) Extend(ctx context.Context, id keys.LockID, token string, ttl time.Duration) (lock.Lock, error) {
	res, err := upstash.Strings(extendScript.Run(ctx, s.c, []string{s.keys.LockKey(id)},
		storekit.Args{"token", token, "ttl_ms", ttl.Milliseconds(), "now_ms", s.now().UnixMilli()}...))
	if err != nil {
		return lock.Lock{}, fmt.Errorf("extend lock %s: %w", id, err)
	}
	switch res[0] {
	case "free":
		return lock.Lock{}, apperr.New(apperr.Conflict, "lock %s is not held; take it again", id)
	case "other":
		return lock.Lock{}, lockHeld(id, res[1])
	}
	return lock.Lock{ResourceID: id.String(), Token: token, ExpiresAt: lockExpiry(res[1])}, nil
}

// Release frees the lock, for the holder of token.
func (s *Locks) Release(ctx context.Context, id keys.LockID, token string) error {
	res, err := upstash.Strings(releaseScript.Run(ctx, s.c, []string{s.keys.LockKey(id)},
		storekit.Args{"token", token, "now_ms", s.now().UnixMilli()}...))
	if err != nil {
		return fmt.Errorf("release lock %s: %w", id, err)
	}
	switch res[0] {
	case "free":
		return apperr.New(apperr.NotFound, "lock %s is not held", id)
	case "other":
		return lockHeld(id, res[1])
	}
	return nil
}
