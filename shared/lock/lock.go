// Package lock is the locks of API.md: a lock is held by whoever holds its
// random token, for a time to live, and is extended or released only with
// that token. The store is redisstore.Locks; the routes are in package
// handlers.
package lock

import (
	"context"
	"time"

	"github.com/ai-rails/state-service/shared/keys"
)

// Limits of API.md.
const (
	MaxTTLSeconds     = int(keys.LockMaxTTL / time.Second)
	DefaultTTLSeconds = 60
	MaxOwner          = 256
	MaxToken          = 128
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

// Service takes, extends and releases locks, each in one atomic step. A lock
// held by someone else is an apperr Conflict carrying "expires_at"; a lock
// not held is Conflict on Extend and NotFound on Release.
type Service interface {
	// Acquire takes the lock for ttl.
	Acquire(ctx context.Context, id keys.LockID, owner string, ttl time.Duration) (Lock, error)
	// Extend sets the lock's time to live again, for the holder of token.
	Extend(ctx context.Context, id keys.LockID, token string, ttl time.Duration) (Lock, error)
	// Release frees the lock, for the holder of token.
	Release(ctx context.Context, id keys.LockID, token string) error
}
