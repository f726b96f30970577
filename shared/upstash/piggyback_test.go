package upstash_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// piggy hands out one INCR per call and records how each call went.
type piggy struct {
	mu      sync.Mutex
	outcome []bool
	off     bool
}

func (p *piggy) hook(context.Context) ([]any, func(bool)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return nil, nil
	}
	return []any{"INCR", "carried"}, func(ok bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.outcome = append(p.outcome, ok)
	}
}

func TestPiggybackRidesAlong(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b *upstashtest.Backend, _ *upstash.Client) {
		p := &piggy{}
		c := b.Client(t, upstash.Options{Piggyback: p.hook})
		before := c.Stats().RoundTrips

		_, err := c.Do(ctx, "SET", "k", "v")
		require.NoError(t, err)
		v, err := upstash.String(c.Do(ctx, "GET", "k"))
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		_, err = c.Do(ctx, "GET", "missing")
		assert.ErrorIs(t, err, upstash.ErrNil, "the command's own answer is returned")
		res, err := c.Pipeline(ctx, []any{"GET", "k"}, []any{"STRLEN", "k"})
		require.NoError(t, err)
		assert.Equal(t, []upstash.Result{{Value: "v"}, {Value: int64(1)}}, res, "the extra answer is not returned")
		_, err = upstash.NewScript("return 1").Run(ctx, c, nil)
		require.NoError(t, err)

		assert.Equal(t, uint64(5), c.Stats().RoundTrips-before, "one round trip per call, the script's first run too")
		p.off = true
		n, err := upstash.Int64(c.Do(ctx, "GET", "carried"))
		require.NoError(t, err)
		assert.Equal(t, int64(5), n, "every call carried its extra")
		assert.Equal(t, []bool{true, true, true, true, true}, p.outcome)

		// Binary values travel in the path form, which carries nothing.
		p.off = false
		_, err = c.Do(ctx, "SET", "bin", "\xff")
		require.NoError(t, err)
		assert.Len(t, p.outcome, 5)
	})
}

func TestPiggybackReportsFailure(t *testing.T) {
	fs := newFaultServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	p := &piggy{}
	opts := fastOptions(fs.URL)
	opts.Piggyback = p.hook
	c := newClient(t, opts)
	_, err := c.Do(context.Background(), "GET", "k")
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	assert.Equal(t, int64(4), fs.hits.Load(), "a read carrying an extra is still retried")
	_, err = c.Pipeline(context.Background(), []any{"GET", "k"})
	assert.Error(t, err)
	assert.Equal(t, []bool{false, false}, p.outcome)
}
