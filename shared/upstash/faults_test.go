package upstash_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

const secretToken = "sUp3r-s3cret-t0ken-value"

// faultServer answers every request with handle, counting the requests.
type faultServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newFaultServer(t *testing.T, handle http.HandlerFunc) *faultServer {
	t.Helper()
	fs := &faultServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		handle(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

// fastOptions retry quickly, so fault tests stay short.
func fastOptions(url string) upstash.Options {
	return upstash.Options{Options: restclient.Options{URL: url, Token: secretToken, MaxRetries: 3, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 4 * time.Millisecond, BreakerFailures: 100}}
}

func newClient(t *testing.T, opts upstash.Options) *upstash.Client {
	t.Helper()
	c, err := upstash.New(opts)
	require.NoError(t, err)
	return c
}

func TestRetriesOnlyWhereSafe(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		handle  http.HandlerFunc
		isError error
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"error":"bad gateway"}`)
		}, upstash.ErrUnavailable},
		{"malformed JSON", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"result": "T0s=`)
		}, upstash.ErrUnavailable},
		{"trailing garbage", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"result": 1} x`)
		}, upstash.ErrUnavailable},
		{"connection cut mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"result":`)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, upstash.ErrUnavailable},
		{"throttled by 429", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		}, upstash.ErrThrottled},
		{"throttled by message", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"ERR max daily request limit exceeded"}`)
		}, upstash.ErrThrottled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFaultServer(t, tc.handle)
			c := newClient(t, fastOptions(fs.URL))

			_, err := c.Do(ctx, "GET", "k")
			assert.ErrorIs(t, err, tc.isError)
			assert.ErrorIs(t, err, upstash.ErrUnavailable)
			assert.Equal(t, int64(4), fs.hits.Load(), "a read is tried 1 + 3 times")

			fs.hits.Store(0)
			_, err = c.Do(ctx, "SET", "k", "v")
			assert.ErrorIs(t, err, tc.isError)
			assert.Equal(t, int64(1), fs.hits.Load(), "a write that reached the server is never retried")

			fs.hits.Store(0)
			_, err = c.Pipeline(ctx, []any{"GET", "a"}, []any{"MGET", "b", "c"})
			assert.ErrorIs(t, err, upstash.ErrUnavailable)
			assert.Equal(t, int64(4), fs.hits.Load(), "an all-read pipeline is retried")

			fs.hits.Store(0)
			_, err = c.MultiExec(ctx, []any{"GET", "a"}, []any{"INCR", "b"})
			assert.ErrorIs(t, err, upstash.ErrUnavailable)
			assert.Equal(t, int64(1), fs.hits.Load(), "a transaction with a write is not retried")

			fs.hits.Store(0)
			_, err = upstash.NewScript("return 1").RetrySafe().Run(ctx, c, nil)
			assert.ErrorIs(t, err, upstash.ErrUnavailable)
			assert.Equal(t, int64(4), fs.hits.Load(), "a script marked retry-safe is retried")
		})
	}
}

func TestRetryRecovers(t *testing.T) {
	var n atomic.Int64
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"result":"aGVsbG8="}`)
	})
	c := newClient(t, fastOptions(fs.URL))
	v, err := upstash.String(c.Do(context.Background(), "GET", "k"))
	require.NoError(t, err)
	assert.Equal(t, "hello", v)
	assert.Equal(t, int64(3), fs.hits.Load())
	assert.Equal(t, uint64(3), c.Stats().RoundTrips)
	assert.Equal(t, uint64(0), c.Stats().Failures)
}

func TestUnsentWritesAreRetried(t *testing.T) {
	// A closed port refuses the connection before any byte is sent, so even a
	// write is safe to retry.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	var trips int
	opts := fastOptions("http://" + addr)
	opts.Hooks = []upstash.Hook{func(_ context.Context, c upstash.Call) { trips = c.RoundTrips }}
	c := newClient(t, opts)
	_, err = c.Do(context.Background(), "SET", "k", "v")
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	assert.Equal(t, 4, trips)
}

func TestDeadlineHolds(t *testing.T) {
	release := make(chan struct{})
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	opts := fastOptions(fs.URL)
	opts.Timeout = 150 * time.Millisecond
	c := newClient(t, opts)

	start := time.Now()
	_, err := c.Do(context.Background(), "GET", "k")
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, 2*time.Second, "the call ends at its deadline, retries included")
	assert.Equal(t, int64(1), fs.hits.Load(), "no retry once the deadline has passed")

	// A caller's earlier deadline wins over Options.Timeout.
	opts.Timeout = time.Minute
	c = newClient(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, "GET", "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A caller that cancels gets its cancellation, which is no store failure.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.Do(ctx, "GET", "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, upstash.ErrUnavailable)
	assert.Equal(t, upstash.CircuitClosed, c.CircuitState())
}

func TestCircuitOpensAndRecovers(t *testing.T) {
	var healthy atomic.Bool
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"result":"OK"}`)
	})
	opts := fastOptions(fs.URL)
	opts.MaxRetries = -1
	opts.BreakerFailures = 3
	opts.BreakerOpenDelay = 100 * time.Millisecond
	c := newClient(t, opts)
	ctx := context.Background()

	for range 3 {
		_, err := c.Do(ctx, "PING")
		require.ErrorIs(t, err, upstash.ErrUnavailable)
	}
	assert.Equal(t, upstash.CircuitOpen, c.CircuitState())

	hits := fs.hits.Load()
	_, err := c.Do(ctx, "PING")
	assert.ErrorIs(t, err, upstash.ErrCircuitOpen)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	assert.Equal(t, hits, fs.hits.Load(), "an open circuit fails fast, without a request")
	assert.Equal(t, time.Second, upstash.RetryAfter(err), "at least a second")
	assert.Zero(t, upstash.RetryAfter(errors.New("other")))

	healthy.Store(true)
	require.Eventually(t, func() bool { return c.CircuitState() == upstash.CircuitHalfOpen }, 2*time.Second, 5*time.Millisecond)
	v, err := c.Do(ctx, "PING")
	require.NoError(t, err)
	assert.Equal(t, "OK", v)
	assert.Equal(t, upstash.CircuitClosed, c.CircuitState())
}

func TestRedisErrorsDoNotTripTheCircuit(t *testing.T) {
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}`)
	})
	opts := fastOptions(fs.URL)
	opts.BreakerFailures = 2
	c := newClient(t, opts)
	for range 5 {
		_, err := c.Do(context.Background(), "GET", "k")
		assert.True(t, upstash.HasPrefix(err, "WRONGTYPE"))
	}
	assert.Equal(t, upstash.CircuitClosed, c.CircuitState())
	assert.Equal(t, int64(5), fs.hits.Load(), "a Redis error is an answer, not retried")
}

func TestMalformedEnvelopes(t *testing.T) {
	for _, body := range []string{`[]`, `{"foo":1}`, `{"result":"not base64!"}`, `{"result":1.5}`, `{"result":{"a":1}}`} {
		fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		c := newClient(t, fastOptions(fs.URL))
		_, err := c.Do(context.Background(), "GET", "k")
		assert.ErrorIs(t, err, upstash.ErrUnavailable, "body %s", body)
		assert.ErrorContains(t, err, "malformed", "body %s", body)
	}
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[{"result":1}]`) })
	c := newClient(t, fastOptions(fs.URL))
	_, err := c.Pipeline(context.Background(), []any{"GET", "a"}, []any{"GET", "b"})
	assert.ErrorContains(t, err, "not an array of 2 results")

	fs = newFaultServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	c = newClient(t, fastOptions(fs.URL))
	_, err = c.Do(context.Background(), "GET", "k")
	var uerr *upstash.Error
	require.ErrorAs(t, err, &uerr)
	assert.Equal(t, http.StatusTeapot, uerr.StatusCode)
}

func TestURLValidation(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://eu1-fine-cat-12345.upstash.io", true},
		{"https://eu1-fine-cat-12345.upstash.io/", true},
		{"http://127.0.0.1:8079", true},
		{"http://localhost:8079", true},
		{"http://[::1]:8079", true},
		{"http://eu1-fine-cat-12345.upstash.io", false},
		{"http://10.0.0.5:8079", false},
		{"ftp://example.com", false},
		{"https://", false},
		{"", false},
		{"://nope", false},
		{"https://user:" + secretToken + "@example.com", false},
		{"https://example.com/?_token=" + secretToken, false},
	} {
		c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: tc.url, Token: secretToken}})
		if tc.ok {
			require.NoError(t, err, tc.url)
			assert.Equal(t, strings.TrimSuffix(tc.url, "/"), c.URL())
			continue
		}
		require.Error(t, err, tc.url)
		assert.NotContains(t, err.Error(), secretToken, "the error for %q shows the token", tc.url)
		assert.True(t, strings.HasPrefix(err.Error(), "upstash:"), err.Error())
	}
	_, err := upstash.New(upstash.Options{Options: restclient.Options{URL: "https://example.com"}})
	assert.ErrorContains(t, err, "token is required")
}

func TestTokenNeverShows(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error

	// Retries and circuit changes are logged.
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":"boom"}`)
	})
	opts := fastOptions(fs.URL)
	opts.Logger = logger
	opts.BreakerFailures = 2
	c := newClient(t, opts)
	for range 3 {
		_, err := c.Do(context.Background(), "GET", "k")
		errs = append(errs, err)
	}
	assert.Equal(t, upstash.CircuitOpen, c.CircuitState())

	// A wrong token gets 401 from the REST server, and the error shows neither
	// the token sent nor the real one.
	b := upstashtest.Mini(t)
	wrong, err := upstash.New(upstash.Options{Options: restclient.Options{URL: b.URL, Token: secretToken, Logger: logger}})
	require.NoError(t, err)
	_, err = wrong.Do(context.Background(), "GET", "k")
	var uerr *upstash.Error
	require.ErrorAs(t, err, &uerr)
	assert.Equal(t, http.StatusUnauthorized, uerr.StatusCode)
	assert.Equal(t, "WRONGPASS", uerr.Prefix)
	assert.Equal(t, "upstash: WRONGPASS invalid or missing auth token", err.Error())
	errs = append(errs, err)

	// Dial failures carry the URL, which holds no token.
	dead := newClient(t, fastOptions("http://127.0.0.1:1"))
	_, err = dead.Do(context.Background(), "SET", "k", "v")
	errs = append(errs, err)

	logger.Info("options", "opts", opts, "client", c)
	printed := fmt.Sprintf("%v %+v %#v %s %v %#v", opts, opts, opts, c, c, c) + logs.String()
	for _, err := range errs {
		require.Error(t, err)
		printed += err.Error()
	}
	assert.NotContains(t, printed, secretToken)
	assert.Contains(t, logs.String(), "circuit changed", "the circuit change was logged")
	assert.Contains(t, logs.String(), "retrying", "the retries were logged")
	assert.Contains(t, printed, "<redacted>")
	assert.False(t, errors.Is(errs[len(errs)-2], upstash.ErrUnavailable))
}

// A Redis that is loading its data after a restart (or busy, or cut off
// from its primary) is unavailable for a moment: safe calls retry, and the
// rest fail as unavailable, which the API answers 503, not 500.
func TestTransientRedisErrorsAreUnavailable(t *testing.T) {
	for _, msg := range []string{"LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script", "MASTERDOWN Link with MASTER is down"} {
		var n atomic.Int64
		fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":%q}`, msg)
				return
			}
			fmt.Fprint(w, `{"result":"UE9ORw=="}`) // base64, as asked
		})
		c := newClient(t, fastOptions(fs.URL))
		v, err := c.Do(context.Background(), "PING")
		require.NoError(t, err, "a read-only call retries: %s", msg)
		assert.Equal(t, "PONG", v)

		n.Store(0)
		_, err = upstash.NewScript("return redis.call('SET', KEYS[1], 'v')").Run(context.Background(), c, []string{"k"})
		assert.ErrorIs(t, err, upstash.ErrUnavailable, "%s: a write is not retried, and is unavailable", msg)
	}
}

// The same error for one command of a pipeline, as a piggybacked call
// sends (HTTP 200, the error inside): unavailable, so 503, not 500.
func TestTransientErrorsInAPipelineAreUnavailable(t *testing.T) {
	for _, msg := range []string{"LOADING Redis is loading the dataset in memory", "max daily request limit exceeded. Limit: 10000"} {
		fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `[{"result":"T0s="},{"error":%q}]`, msg)
		})
		c := newClient(t, fastOptions(fs.URL))
		res, err := c.Pipeline(context.Background(), []any{"SET", "a", "1"}, []any{"SET", "b", "2"})
		require.NoError(t, err)
		assert.ErrorIs(t, res[1].Err, upstash.ErrUnavailable, msg)
		assert.Greater(t, upstash.RetryAfter(res[1].Err), time.Duration(0))
	}
}
