// Package upstashtest runs the Upstash-compatible REST server over real and
// embedded Redis backends, for tests.
package upstashtest

import (
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// Token is the REST token of every test endpoint.
const Token = "test-token-0123456789"

// Backend is a REST endpoint in front of one Redis.
type Backend struct {
	Name     string               // "redis" or "miniredis"
	URL      string               // the REST endpoint
	RedisURL string               // the Redis behind it
	Mini     *miniredis.Miniredis // set for the miniredis backend
	Redis    *redistest.Server    // set for the redis backend
	Server   *restserver.Server   // the REST server
	HTTP     *httptest.Server     // the HTTP listener
}

// Backends starts one REST endpoint over a real redis-server and one over
// miniredis. All are stopped when the test ends.
func Backends(tb testing.TB) []*Backend {
	tb.Helper()
	return []*Backend{Real(tb), Mini(tb)}
}

// Real starts a REST endpoint over a new real redis-server.
func Real(tb testing.TB) *Backend {
	tb.Helper()
	rs := redistest.Start(tb)
	b := serve(tb, "redis", rs.URL())
	b.Redis = rs
	return b
}

// Mini starts a REST endpoint over a new miniredis.
func Mini(tb testing.TB) *Backend {
	tb.Helper()
	m := miniredis.RunT(tb)
	b := serve(tb, "miniredis", "redis://"+m.Addr()+"/0")
	b.Mini = m
	return b
}

// Serve starts a REST endpoint over the Redis at redisURL.
func serve(tb testing.TB, name, redisURL string) *Backend {
	tb.Helper()
	srv, err := restserver.New(restserver.Options{RedisURL: redisURL, Token: Token})
	if err != nil {
		tb.Fatalf("restserver.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		hs.CloseClientConnections()
		_ = srv.Close()
		hs.Close()
	})
	return &Backend{Name: name, URL: hs.URL, RedisURL: redisURL, Server: srv, HTTP: hs}
}

// Client returns a client of the endpoint. Opts may set anything but the URL
// and token.
func (b *Backend) Client(tb testing.TB, opts upstash.Options) *upstash.Client {
	tb.Helper()
	opts.URL, opts.Token = b.URL, Token
	c, err := upstash.New(opts)
	if err != nil {
		tb.Fatalf("upstash.New: %v", err)
	}
	return c
}
