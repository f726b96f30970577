package upstash_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// forEachBackend runs fn against the REST server over a real redis-server and
// over miniredis.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *upstashtest.Backend, c *upstash.Client)) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, b, b.Client(t, upstash.Options{}))
		})
	}
}

func TestBinaryValuesRoundTrip(t *testing.T) {
	ctx := context.Background()
	// Bytes that are not UTF-8, including NUL and a lone continuation byte.
	bin := string([]byte{0xff, 0x00, 0xfe, 0x80, 'a', 0xc3})
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		got, err := c.Do(ctx, "SET", "bin", bin)
		require.NoError(t, err)
		assert.Equal(t, "OK", got)

		v, err := upstash.String(c.Do(ctx, "GET", "bin"))
		require.NoError(t, err)
		assert.Equal(t, bin, v)

		// Nested arrays decode too: MGET inside a script's table.
		res, err := upstash.NewScript(`return {redis.call('MGET', KEYS[1], KEYS[2]), 7, "OK"}`).
			Run(ctx, c, []string{"bin", "missing"})
		require.NoError(t, err)
		assert.Equal(t, []any{[]any{bin, nil}, int64(7), "OK"}, res)

		// A UTF-8 value that happens to be valid base64 is not mistaken.
		_, err = c.Do(ctx, "SET", "b64", "T0s=")
		require.NoError(t, err)
		v, err = upstash.String(c.Do(ctx, "GET", "b64"))
		require.NoError(t, err)
		assert.Equal(t, "T0s=", v)
	})
}

// A command with a binary argument goes in the path form, and a store that
// is down fails it as it fails any other.
func TestBinaryArgumentToAStoreThatIsDown(t *testing.T) {
	b := upstashtest.Mini(t)
	c := b.Client(t, upstash.Options{Options: restclient.Options{MaxRetries: -1}})
	b.Server.Close()
	_, err := c.Do(context.Background(), "SET", "k", []byte{0xff, 0x00})
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
}

func TestBinaryArgumentMustBeLast(t *testing.T) {
	b := upstashtest.Mini(t)
	c := b.Client(t, upstash.Options{})
	_, err := c.Do(context.Background(), "SET", "k", "\xff", "EX", 10)
	assert.ErrorIs(t, err, upstash.ErrBinaryArg)
	_, err = c.Pipeline(context.Background(), []any{"SET", "k", "\xff"})
	assert.ErrorIs(t, err, upstash.ErrBinaryArg)
}

func TestPipelineKeepsOrder(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		res, err := c.Pipeline(ctx,
			[]any{"RPUSH", "list", "a"},
			[]any{"RPUSH", "list", "b"},
			[]any{"LPUSH", "list", "z"},
			[]any{"GET", "nothing"},
			[]any{"INCR", "list"},
			[]any{"LRANGE", "list", 0, -1},
		)
		require.NoError(t, err)
		require.Len(t, res, 6)
		assert.Equal(t, int64(1), res[0].Value)
		assert.Equal(t, int64(2), res[1].Value)
		assert.Equal(t, int64(3), res[2].Value)
		assert.ErrorIs(t, res[3].Err, upstash.ErrNil)
		assert.True(t, upstash.HasPrefix(res[4].Err, "WRONGTYPE"), "got %v", res[4].Err)
		assert.Equal(t, []any{"z", "a", "b"}, res[5].Value)
	})
}

// An empty batch makes no call.
func TestEmptyBatchesMakeNoCall(t *testing.T) {
	c := upstashtest.Mini(t).Client(t, upstash.Options{})
	res, err := c.Pipeline(context.Background())
	assert.NoError(t, err)
	assert.Empty(t, res)
	res, err = c.MultiExec(context.Background())
	assert.NoError(t, err)
	assert.Empty(t, res)
	assert.Zero(t, c.Stats().RoundTrips)
}

func TestPipelineBatchesOfAThousand(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		cmds := make([][]any, 2500)
		for i := range cmds {
			cmds[i] = []any{"INCR", "n"}
		}
		before := c.Stats()
		res, err := c.Pipeline(ctx, cmds...)
		require.NoError(t, err)
		require.Len(t, res, 2500)
		for i, r := range res {
			require.NoError(t, r.Err)
			require.Equal(t, int64(i+1), r.Value, "result %d", i)
		}
		after := c.Stats()
		assert.Equal(t, uint64(3), after.RoundTrips-before.RoundTrips, "2500 commands go in 3 requests")
		assert.Equal(t, uint64(2500), after.Commands-before.Commands)
	})
}

func TestMultiExec(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		t.Run("run-time error applies the rest", func(t *testing.T) {
			_, err := c.Do(ctx, "SET", "str", "text")
			require.NoError(t, err)
			res, err := c.MultiExec(ctx,
				[]any{"SET", "a", "1"},
				[]any{"INCR", "str"},
				[]any{"SET", "b", "2"},
				[]any{"GET", "a"},
			)
			require.NoError(t, err)
			require.Len(t, res, 4)
			assert.Equal(t, "OK", res[0].Value)
			assert.True(t, upstash.HasPrefix(res[1].Err, "ERR"), "got %v", res[1].Err)
			assert.Equal(t, "OK", res[2].Value)
			assert.Equal(t, "1", res[3].Value)
			v, err := upstash.String(c.Do(ctx, "GET", "b"))
			require.NoError(t, err)
			assert.Equal(t, "2", v)
		})
		t.Run("syntax error discards everything", func(t *testing.T) {
			for _, bad := range [][]any{{"SET", "y"}, {"NOSUCHCOMMAND", "y"}} {
				res, err := c.MultiExec(ctx,
					[]any{"SET", "x", "1"},
					bad,
					[]any{"SET", "z", "1"},
				)
				var uerr *upstash.Error
				require.ErrorAs(t, err, &uerr, "bad command %v", bad)
				assert.Nil(t, res)
				assert.Equal(t, http.StatusBadRequest, uerr.StatusCode)
				n, err := upstash.Int64(c.Do(ctx, "EXISTS", "x", "z"))
				require.NoError(t, err)
				assert.Zero(t, n, "nothing of a discarded transaction applies")
			}
		})
	})
}

func TestScriptFallsBackToEvalAfterFlush(t *testing.T) {
	ctx := context.Background()
	script := upstash.NewScript(`redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])`)
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		run := func(val string) uint64 {
			t.Helper()
			before := c.Stats().RoundTrips
			v, err := upstash.String(script.Run(ctx, c, []string{"k"}, val))
			require.NoError(t, err)
			assert.Equal(t, val, v)
			return c.Stats().RoundTrips - before
		}
		assert.Equal(t, uint64(1), run("first"), "the client's first run: EVAL, which loads the script")
		assert.Equal(t, uint64(1), run("second"), "sent before: EVALSHA only")
		_, err := c.Do(ctx, "SCRIPT", "FLUSH")
		require.NoError(t, err)
		assert.Equal(t, uint64(2), run("third"), "flushed: EVALSHA, NOSCRIPT, then EVAL")
		assert.Equal(t, uint64(1), run("fourth"))

		require.NoError(t, script.Load(ctx, c))
		n, err := upstash.Values(c.Do(ctx, "SCRIPT", "EXISTS", script.Hash()))
		require.NoError(t, err)
		assert.Equal(t, []any{int64(1)}, n)
		assert.Contains(t, script.Source(), "redis.call")
	})
}

func TestErrorsAndNil(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		_, err := c.Do(ctx, "GET", "missing")
		assert.ErrorIs(t, err, upstash.ErrNil)
		_, err = upstash.String(c.Do(ctx, "GET", "missing"))
		assert.ErrorIs(t, err, upstash.ErrNil)

		_, err = c.Do(ctx, "SET", "s", "v")
		require.NoError(t, err)
		_, err = c.Do(ctx, "LPUSH", "s", "x")
		var uerr *upstash.Error
		require.ErrorAs(t, err, &uerr)
		assert.Equal(t, "WRONGTYPE", uerr.Prefix)
		assert.True(t, strings.HasPrefix(err.Error(), "upstash: WRONGTYPE"), err.Error())
		assert.NotErrorIs(t, err, upstash.ErrUnavailable)

		_, err = c.Do(ctx, "BLPOP", "list", 1)
		require.ErrorAs(t, err, &uerr)
		assert.Contains(t, uerr.Message, "not available")

		_, err = c.Do(ctx, "EVALSHA", strings.Repeat("0", 40), 0)
		assert.True(t, upstash.HasPrefix(err, "NOSCRIPT"), "got %v", err)
	})
}

func TestTTLs(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, c *upstash.Client) {
		_, err := c.Do(ctx, "SET", "k", "v", "EX", 100)
		require.NoError(t, err)
		ttl, err := upstash.Int64(c.Do(ctx, "TTL", "k"))
		require.NoError(t, err)
		assert.InDelta(t, 100, ttl, 1)

		_, err = c.Do(ctx, "PEXPIRE", "k", 1500)
		require.NoError(t, err)
		pttl, err := upstash.Int64(c.Do(ctx, "PTTL", "k"))
		require.NoError(t, err)
		assert.InDelta(t, 1500, pttl, 100)

		ttl, err = upstash.Int64(c.Do(ctx, "TTL", "nokey"))
		require.NoError(t, err)
		assert.Equal(t, int64(-2), ttl)
	})
}

// headerLog records the sync-token headers of each request and answer.
type headerLog struct {
	mu       sync.Mutex
	sent     []string
	received []string
	next     http.RoundTripper
}

func (h *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, r.Header.Get("Upstash-Sync-Token"))
	if err == nil {
		h.received = append(h.received, resp.Header.Get("Upstash-Sync-Token"))
	}
	return resp, err
}

func TestReadYourWritesToken(t *testing.T) {
	ctx := context.Background()
	b := upstashtest.Mini(t)
	log := &headerLog{next: http.DefaultTransport}
	c := b.Client(t, upstash.Options{Options: restclient.Options{HTTPClient: &http.Client{Transport: log}}})
	for i := range 3 {
		_, err := c.Do(ctx, "SET", "k", i)
		require.NoError(t, err)
	}
	require.Len(t, log.sent, 3)
	assert.Empty(t, log.sent[0], "the first request has no token yet")
	for i := 1; i < 3; i++ {
		assert.NotEmpty(t, log.received[i-1])
		assert.Equal(t, log.received[i-1], log.sent[i], "request %d carries the token of answer %d", i, i-1)
	}

	off := &headerLog{next: http.DefaultTransport}
	c2 := b.Client(t, upstash.Options{Options: restclient.Options{HTTPClient: &http.Client{Transport: off}}, DisableReadYourWrites: true})
	for range 2 {
		_, err := c2.Do(ctx, "GET", "k")
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"", ""}, off.sent)
}

func TestArgumentTypes(t *testing.T) {
	ctx := context.Background()
	c := upstashtest.Mini(t).Client(t, upstash.Options{})
	for _, tc := range []struct {
		arg  any
		want string
	}{
		{"s", "s"}, {[]byte("b"), "b"}, {42, "42"}, {int64(-7), "-7"}, {int32(3), "3"},
		{uint(5), "5"}, {uint64(6), "6"}, {uint32(8), "8"}, {1.5, "1.5"}, {float32(0.25), "0.25"},
		{true, "1"}, {false, "0"},
	} {
		_, err := c.Do(ctx, "SET", "k", tc.arg)
		require.NoError(t, err)
		got, err := upstash.String(c.Do(ctx, "GET", "k"))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "argument %#v", tc.arg)
	}
	_, err := c.Do(ctx, "SET", "k", struct{}{})
	assert.ErrorContains(t, err, "unsupported argument type")
	_, err = c.Do(ctx)
	assert.ErrorContains(t, err, "empty command")
	_, err = c.Pipeline(ctx, []any{"SET", "k", struct{}{}})
	assert.ErrorContains(t, err, "unsupported argument type")
	res, err := c.Pipeline(ctx)
	assert.NoError(t, err)
	assert.Empty(t, res)
}

func TestConversions(t *testing.T) {
	boom := errors.New("boom")
	_, err := upstash.String(nil, boom)
	assert.Same(t, boom, err)
	s, err := upstash.String(int64(12), nil)
	assert.Equal(t, "12", s)
	assert.NoError(t, err)
	_, err = upstash.String([]any{}, nil)
	assert.Error(t, err)

	n, err := upstash.Int64("34", nil)
	assert.Equal(t, int64(34), n)
	assert.NoError(t, err)
	_, err = upstash.Int64("x", nil)
	assert.Error(t, err)
	_, err = upstash.Int64(nil, nil)
	assert.ErrorIs(t, err, upstash.ErrNil)
	_, err = upstash.Int64([]any{}, nil)
	assert.Error(t, err)
	_, err = upstash.Int64(nil, boom)
	assert.Same(t, boom, err)

	_, err = upstash.Values(nil, nil)
	assert.ErrorIs(t, err, upstash.ErrNil)
	_, err = upstash.Values("x", nil)
	assert.Error(t, err)
	ss, err := upstash.Strings([]any{"a", nil, int64(3)}, nil)
	assert.NoError(t, err)
	assert.Equal(t, []string{"a", "", "3"}, ss)
	_, err = upstash.Strings([]any{[]any{}}, nil)
	assert.Error(t, err)
	_, err = upstash.Strings(nil, boom)
	assert.Same(t, boom, err)
}

func TestHooksSeeEveryCall(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var calls []upstash.Call
	c := upstashtest.Mini(t).Client(t, upstash.Options{Hooks: []upstash.Hook{func(_ context.Context, call upstash.Call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call)
	}}})
	_, err := c.Do(ctx, "set", "k", "v")
	require.NoError(t, err)
	_, err = c.Pipeline(ctx, []any{"GET", "k"}, []any{"TTL", "k"})
	require.NoError(t, err)
	_, err = c.MultiExec(ctx, []any{"INCR", "n"})
	require.NoError(t, err)
	require.Len(t, calls, 3)
	assert.Equal(t, upstash.KindCommand, calls[0].Kind)
	assert.Equal(t, []string{"SET"}, calls[0].Names)
	assert.Equal(t, upstash.KindPipeline, calls[1].Kind)
	assert.Equal(t, []string{"GET", "TTL"}, calls[1].Names)
	assert.Equal(t, 2, calls[1].Commands)
	assert.Equal(t, upstash.KindMultiExec, calls[2].Kind)
	for i, call := range calls {
		assert.Equal(t, 1, call.RoundTrips, "call %d", i)
		assert.Positive(t, call.Duration, "call %d", i)
		assert.NoError(t, call.Err)
	}
	st := c.Stats()
	assert.Equal(t, upstash.Stats{Calls: 3, Commands: 4, RoundTrips: 3}, st)
	assert.Equal(t, upstash.CircuitClosed, c.CircuitState())
	assert.Equal(t, fmt.Sprintf("upstash.Client{URL: %q, Token: <redacted>}", c.URL()), c.String())
}
