package upstash

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
)

// Script is a Lua script run by its SHA1 with EVALSHA, falling back to EVAL
// when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH), so the
// source is sent only when the server lacks it.
//
// A client's first run of a script is an EVAL, which loads the script as it
// runs it: a fresh process (a Lambda cold start) would otherwise pay an
// EVALSHA, a NOSCRIPT and an EVAL, two round trips, on its first call.
//
// Its source is joined, and hashed, on first use rather than when it is
// made: the scripts are package variables, a function runs few of them, and
// joining and hashing them all cost a cold start most of a millisecond.
type Script struct {
	*body
	retrySafe bool
}

type body struct {
	once      sync.Once
	source    func() string
	src, hash string
}

// NewScript returns a Script for the Lua source, the parts joined.
func NewScript(parts ...string) *Script {
	return &Script{body: &body{source: func() string { return strings.Join(parts, "") }}}
}

// LazyScript returns a Script whose source source makes, on first use.
func LazyScript(source func() string) *Script {
	return &Script{body: &body{source: source}}
}

// Within returns a script whose source is before, s's source and after.
func (s *Script) Within(before, after string) *Script {
	return &Script{body: &body{source: func() string { return before + s.Source() + after }}}
}

// ready joins and hashes the source, once.
func (b *body) ready() *body {
	b.once.Do(func() {
		b.src = b.source()
		b.source = nil
		sum := sha1.Sum([]byte(b.src))
		b.hash = hex.EncodeToString(sum[:])
	})
	return b
}

// RetrySafe returns a copy of the script that the client may retry after an
// ambiguous failure. Mark only scripts that cannot apply twice: reads, or
// writes guarded by a version or an idempotency key.
func (s *Script) RetrySafe() *Script {
	c := *s
	c.retrySafe = true
	return &c
}

// Hash returns the script's SHA1, as EVALSHA takes it.
func (s *Script) Hash() string { return s.ready().hash }

// Source returns the Lua source.
func (s *Script) Source() string { return s.ready().src }

// Run runs the script with the keys and arguments, and returns its decoded
// result as Do does. It is one round trip unless the server has lost a
// script that this client sent before.
func (s *Script) Run(ctx context.Context, c *Client, keys []string, args ...any) (any, error) {
	s.ready()
	if _, sent := c.scripts.Load(s.hash); !sent {
		return s.eval(ctx, c, keys, args)
	}
	v, err := c.do1(ctx, s.retrySafe, s.args("EVALSHA", s.hash, keys, args))
	if HasPrefix(err, "NOSCRIPT") {
		return s.eval(ctx, c, keys, args)
	}
	return v, err
}

// eval runs the script by its source and notes, once the server has
// answered, that the server holds it.
func (s *Script) eval(ctx context.Context, c *Client, keys []string, args []any) (any, error) {
	v, err := c.do1(ctx, s.retrySafe, s.args("EVAL", s.src, keys, args))
	var reply *Error
	if err == nil || errors.Is(err, ErrNil) || (errors.As(err, &reply) && reply.Prefix != "ERR") {
		c.scripts.Store(s.hash, struct{}{})
	}
	return v, err
}

// Load sends the script to the server with SCRIPT LOAD.
func (s *Script) Load(ctx context.Context, c *Client) error {
	_, err := c.Do(ctx, "SCRIPT", "LOAD", s.ready().src)
	return err
}

func (s *Script) args(cmd, script string, keys []string, args []any) []any {
	out := make([]any, 0, 3+len(keys)+len(args))
	out = append(out, cmd, script, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return append(out, args...)
}
