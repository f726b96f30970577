package upstash

import (
	"context"

	"github.com/ai-rails/state-service/shared/restclient"
)

// MaxPipelineCommands is the largest batch Pipeline sends in one request,
// as the official SDK's auto-pipelining does.
const MaxPipelineCommands = 1000

// Options configures a Client. The zero value of each field means its
// default; the transport's settings (URL, UPSTASH_REDIS_REST_URL; Token,
// UPSTASH_REDIS_REST_TOKEN; timeouts, retries, circuit breaker, logger)
// are restclient's.
type Options struct {
	restclient.Options

	// DisableReadYourWrites stops the client from sending the
	// upstash-sync-token it last received.
	DisableReadYourWrites bool

	// Hooks are called after every call, with its commands, round trips and
	// duration. They run on the caller's goroutine and must be fast.
	Hooks []Hook

	// Piggyback, when set, is asked before each single command or pipeline
	// for one more command to carry in the same request, ahead of the call's
	// own, such as a flush of counters kept in memory, so that it costs no
	// round trip of its own. done reports whether the call succeeded; the
	// extra command's answer is not returned.
	Piggyback func(ctx context.Context) (cmd []any, done func(ok bool))
}

// String describes the options without the token.
func (o Options) String() string { return "upstash." + o.Options.String() }

// GoString is String, so that %#v does not print the token either.
func (o Options) GoString() string { return o.String() }

// IsLoopback reports whether host is "localhost" or a loopback IP address.
func IsLoopback(host string) bool { return restclient.IsLoopback(host) }
