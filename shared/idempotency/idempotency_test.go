package idempotency

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// The recorded reply comes back as the script gave it: nested tables,
// numbers, empty and binary-looking strings, and a false that ends a table.
func TestRepliesReplayExactly(t *testing.T) {
	s := Wrap(upstash.NewScript(`
redis.call('INCR', KEYS[1])
return {'ok', 42, '', 'a:b\n3:c', {1, 'x', {'deep'}}, ARGV[1], false}`))
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			ctx := context.WithValue(context.Background(), ctxKey{}, &Request{key: "idem:1", fp: "fp1"})
			first, err := s.Run(ctx, c, []string{"counter"}, "arg")
			require.NoError(t, err)
			assert.False(t, Replayed(ctx))
			want := []any{"ok", int64(42), "", "a:b\n3:c", []any{int64(1), "x", []any{"deep"}}, "arg", nil} // false is a nil reply
			assert.Equal(t, want, first)

			again := &Request{key: "idem:1", fp: "fp1"}
			ctx2 := context.WithValue(context.Background(), ctxKey{}, again)
			second, err := s.Run(ctx2, c, []string{"counter"}, "arg")
			require.NoError(t, err)
			assert.True(t, Replayed(ctx2))
			assert.Equal(t, want, second)
			n, err := upstash.Int64(c.Do(context.Background(), "GET", "counter"))
			require.NoError(t, err)
			assert.Equal(t, int64(1), n, "the script ran once")

			other := context.WithValue(context.Background(), ctxKey{}, &Request{key: "idem:1", fp: "fp2"})
			_, err = s.Run(other, c, []string{"counter"}, "arg")
			assert.Equal(t, apperr.Unprocessable, apperr.KindOf(err))

			// Without a key, or once the request's write has run, the script runs plain.
			_, err = s.Run(context.Background(), c, []string{"counter"}, "arg")
			require.NoError(t, err)
			_, err = s.Run(ctx, c, []string{"counter"}, "arg")
			require.NoError(t, err)
			n, _ = upstash.Int64(c.Do(context.Background(), "GET", "counter"))
			assert.Equal(t, int64(3), n)
		})
	}
}

func TestMiddleware(t *testing.T) {
	var seen *Request
	var body string
	h := Middleware(keys.Default())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = From(r.Context())
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		body = b.String()
		if seen != nil {
			seen.Replayed = true
		}
		w.WriteHeader(http.StatusCreated)
	}))
	do := func(method, key, payload string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/x?b=2&a=1", strings.NewReader(payload))
		if key != "" {
			r.Header.Set(Header, key)
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do("POST", "k1", `{"b": 1, "a": [1, 2]}`)
	require.NotNil(t, seen)
	assert.Equal(t, `{"b": 1, "a": [1, 2]}`, body, "the handler reads the whole body")
	assert.Equal(t, "true", w.Header().Get(ReplayedHeader))
	fp := seen.fp
	do("POST", "k1", `{"a":[1,2],"b":1}`)
	assert.Equal(t, fp, seen.fp, "key order and spacing do not count")
	do("POST", "k1", `{"a":[1,2],"b":2}`)
	assert.NotEqual(t, fp, seen.fp)
	do("POST", "k1", `{"a":[1,2],"b":1}`, "If-Match", `"3"`)
	assert.NotEqual(t, fp, seen.fp, "preconditions count")
	assert.Equal(t, keys.Default().Idempotency(scope, mustKey(t, "k1")), seen.key)

	do("GET", "k1", "")
	assert.Nil(t, seen, "reads take no key")
	do("POST", "", `{}`)
	assert.Nil(t, seen)
	w = do("POST", "bad key é", `{}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
}

func mustKey(t *testing.T, s string) keys.IdempotencyKey {
	k, err := keys.ParseIdempotencyKey(s)
	require.NoError(t, err)
	return k
}

// The route the router matched is seen outside the middleware, as the
// access log and the metrics read it.
func TestMiddlewareKeepsTheRoute(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	h := Middleware(keys.Default())(mux)
	r := httptest.NewRequest("POST", "/api/things/7", strings.NewReader(`{}`))
	r.Header.Set(Header, "k")
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, "POST /api/things/{id}", r.Pattern)
}
