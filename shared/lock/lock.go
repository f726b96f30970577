// Package lock is the locks of API.md: a lock is a key holding its holder's
// random token, taken with SET NX PX, and extended or released only by a
// script that compares the token.
package lock

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed acquire.lua
	acquireLua string
	//go:embed extend.lua
	extendLua string
	//go:embed release.lua
	releaseLua string

	acquireScript = idempotency.Wrap(upstash.NewScript(acquireLua))
	extendScript  = idempotency.Wrap(upstash.NewScript(extendLua))
	releaseScript = idempotency.Wrap(upstash.NewScript(releaseLua))
)

// Limits of API.md.
const (
	MaxTTLSeconds     = int(keys.LockMaxTTL / time.Second)
	DefaultTTLSeconds = 60
	MaxOwner          = 256
	// TokenHeader carries the holder's token on PUT and DELETE.
	TokenHeader = "Lock-Token"
)

// Lock is a held lock, as answered.
type Lock struct {
	ResourceID string `json:"resource_id"`
	Owner      string `json:"owner,omitempty"`
	Token      string `json:"token"`
	ExpiresAt  string `json:"expires_at"`
}

// Store takes, extends and releases locks, one round trip each.
type Store struct {
	c    *upstash.Client
	keys keys.Schema
	now  func() time.Time
}

// NewStore returns a Store; now nil means time.Now.
func NewStore(c *upstash.Client, k keys.Schema, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{c: c, keys: k, now: now}
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// expiry formats a script's expiry time (Unix ms).
func expiry(ms string) string {
	n, _ := strconv.ParseInt(ms, 10, 64)
	return storekit.FormatTime(time.UnixMilli(n))
}

func held(id keys.LockID, ms string) error {
	return apperr.New(apperr.Conflict, "lock %s is held by someone else", id).With("expires_at", expiry(ms))
}

// Acquire takes the lock for ttl, or answers conflict with when it frees.
func (s *Store) Acquire(ctx context.Context, id keys.LockID, owner string, ttl time.Duration) (Lock, error) {
	res, err := upstash.Strings(acquireScript.Run(ctx, s.c, []string{s.keys.LockKey(id)}, newToken(), ttl.Milliseconds(), s.now().UnixMilli()))
	if err != nil {
		return Lock{}, fmt.Errorf("acquire lock %s: %w", id, err)
	}
	if res[0] != "ok" {
		return Lock{}, held(id, res[1])
	}
	return Lock{ResourceID: id.String(), Owner: owner, Token: res[1], ExpiresAt: expiry(res[2])}, nil
}

// Extend sets the lock's TTL again, for the holder of token.
func (s *Store) Extend(ctx context.Context, id keys.LockID, token string, ttl time.Duration) (Lock, error) {
	res, err := upstash.Strings(extendScript.Run(ctx, s.c, []string{s.keys.LockKey(id)}, token, ttl.Milliseconds(), s.now().UnixMilli()))
	if err != nil {
		return Lock{}, fmt.Errorf("extend lock %s: %w", id, err)
	}
	switch res[0] {
	case "free":
		return Lock{}, apperr.New(apperr.Conflict, "lock %s is not held; take it again", id)
	case "other":
		return Lock{}, held(id, res[1])
	}
	return Lock{ResourceID: id.String(), Token: token, ExpiresAt: expiry(res[1])}, nil
}

// Release frees the lock, for the holder of token.
func (s *Store) Release(ctx context.Context, id keys.LockID, token string) error {
	res, err := upstash.Strings(releaseScript.Run(ctx, s.c, []string{s.keys.LockKey(id)}, token, s.now().UnixMilli()))
	if err != nil {
		return fmt.Errorf("release lock %s: %w", id, err)
	}
	switch res[0] {
	case "free":
		return apperr.New(apperr.NotFound, "lock %s is not held", id)
	case "other":
		return held(id, res[1])
	}
	return nil
}

// Mount adds the lock routes of API.md.
func Mount(rt *httpkit.Router, d api.Deps) {
	h := &handlers{store: NewStore(d.Store, d.Keys, d.Now)}
	api.Register(rt, map[string]httpkit.HandlerFunc{"lock.acquire": h.acquire, "lock.extend": h.extend, "lock.release": h.release})
}

type handlers struct{ store *Store }

type body struct {
	Owner      *string `json:"owner"`
	TTLSeconds *int    `json:"ttl_seconds"`
}

func resourceID(r *http.Request) (keys.ResourceID, error) {
	id, err := keys.ParseResourceID(r.PathValue("resource_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("resource_id", "must match %s", keys.ResourceIDPattern))
	}
	return id, nil
}

func ttlOf(b body, errs *apperr.Collector) time.Duration {
	if b.TTLSeconds == nil {
		return DefaultTTLSeconds * time.Second
	}
	if *b.TTLSeconds < 1 || *b.TTLSeconds > MaxTTLSeconds {
		errs.Add("ttl_seconds", "must be an integer from 1 to %d", MaxTTLSeconds)
	}
	return time.Duration(*b.TTLSeconds) * time.Second
}

func token(r *http.Request, errs *apperr.Collector) string {
	t := r.Header.Get(TokenHeader)
	if t == "" || len(t) > 128 {
		errs.Add(TokenHeader, "header is required: the token the lock was taken with")
	}
	return t
}

func (h *handlers) acquire(w http.ResponseWriter, r *http.Request) error {
	id, err := resourceID(r)
	var b body
	if err == nil {
		err = httpkit.DecodeJSON(w, r, &b)
	}
	if err != nil {
		return err
	}
	var errs apperr.Collector
	if b.Owner == nil {
		errs.Add("owner", "is required, 1 to %d characters", MaxOwner)
	} else if why := identity.Check(*b.Owner, MaxOwner); why != "" {
		errs.Add("owner", "%s", why)
	}
	ttl := ttlOf(b, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	l, err := h.store.Acquire(r.Context(), id, *b.Owner, ttl)
	if err != nil {
		if apperr.KindOf(err) == apperr.Conflict {
			metrics.Count(r.Context(), metrics.LockConflicts)
		}
		return err
	}
	metrics.Count(r.Context(), metrics.LockAcquired)
	httpkit.WriteJSON(w, r, http.StatusCreated, l)
	return nil
}

func (h *handlers) extend(w http.ResponseWriter, r *http.Request) error {
	id, err := resourceID(r)
	var b body
	if err == nil {
		err = httpkit.DecodeJSON(w, r, &b)
	}
	if err != nil {
		return err
	}
	var errs apperr.Collector
	if b.Owner != nil {
		errs.Add("owner", "cannot be changed by an extension")
	}
	tok := token(r, &errs)
	ttl := ttlOf(b, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	l, err := h.store.Extend(r.Context(), id, tok, ttl)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, l)
	return nil
}

func (h *handlers) release(w http.ResponseWriter, r *http.Request) error {
	id, err := resourceID(r)
	if err != nil {
		return err
	}
	var errs apperr.Collector
	tok := token(r, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	if err := h.store.Release(r.Context(), id, tok); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
