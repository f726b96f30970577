package upstashvector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstashvector"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
)

const token = "vector-secret-token"

// embed3 is a toy embedding of three dimensions, for data upserts.
func embed3(s string) []float32 {
	return []float32{float32(strings.Count(s, "a")), float32(strings.Count(s, "b")), float32(strings.Count(s, "c"))}
}

func server(t *testing.T, dir string) (*vectorserver.Server, string) {
	t.Helper()
	s, err := vectorserver.New(vectorserver.Options{Token: token, Dimension: 3, Embed: embed3, Dir: dir})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs.URL
}

func client(t *testing.T, url string, edit ...func(*upstashvector.Options)) *upstashvector.Client {
	t.Helper()
	o := upstashvector.Options{Options: restclient.Options{URL: url, Token: token}}
	for _, e := range edit {
		e(&o)
	}
	c, err := upstashvector.New(o)
	require.NoError(t, err)
	return c
}

func TestEveryEndpoint(t *testing.T) {
	ctx := context.Background()
	_, url := server(t, "")
	c := client(t, url)
	require.NoError(t, c.Upsert(ctx, []upstashvector.Vector{
		{ID: "x", Vector: []float32{1, 0, 0}, Metadata: json.RawMessage(`{"k":"x"}`), Data: "the x"},
		{ID: "y", Vector: []float32{0.9, 0.1, 0}},
		{ID: "z", Vector: []float32{0, 0, 5}},
	}))
	require.NoError(t, c.UpsertData(ctx, []upstashvector.Data{{ID: "d", Data: "cccc"}}))

	hits, err := c.Query(ctx, upstashvector.Query{Vector: []float32{2, 0, 0}, TopK: 2, IncludeMetadata: true, IncludeData: true})
	require.NoError(t, err)
	require.Len(t, hits, 2)
	assert.Equal(t, "x", hits[0].ID)
	assert.InDelta(t, 1, hits[0].Score, 1e-6, "the same direction scores 1")
	assert.JSONEq(t, `{"k":"x"}`, string(hits[0].Metadata))
	assert.Equal(t, "the x", hits[0].Data)
	assert.Equal(t, "y", hits[1].ID)
	assert.Nil(t, hits[1].Metadata)

	hits, err = c.Query(ctx, upstashvector.Query{Data: "ccc", TopK: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"d", "z"}, []string{hits[0].ID, hits[1].ID}, "ties by id")
	hits, err = c.Query(ctx, upstashvector.Query{Vector: []float32{-1, 0, 0}, TopK: 1})
	require.NoError(t, err)
	assert.Equal(t, "d", hits[0].ID, "orthogonal ties, by id")
	assert.InDelta(t, 0.5, hits[0].Score, 1e-6, "orthogonal scores 0.5")

	got, err := c.Fetch(ctx, []string{"x", "nope"}, upstashvector.FetchOptions{IncludeVectors: true, IncludeMetadata: true})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, []float32{1, 0, 0}, got[0].Vector)
	assert.Nil(t, got[1])

	var ids []string
	for cursor := ""; ; {
		page, err := c.Range(ctx, upstashvector.RangeRequest{Cursor: cursor, Limit: 3})
		require.NoError(t, err)
		for _, v := range page.Vectors {
			ids = append(ids, v.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	assert.Equal(t, []string{"d", "x", "y", "z"}, ids)

	info, err := c.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(4), info.VectorCount)
	assert.Equal(t, 3, info.Dimension)
	assert.Equal(t, "COSINE", info.SimilarityFunction)

	// Namespaces are apart.
	ns := c.Namespace("other")
	require.NoError(t, ns.Upsert(ctx, []upstashvector.Vector{{ID: "x", Vector: []float32{0, 1, 0}}}))
	got, err = ns.Fetch(ctx, []string{"x"}, upstashvector.FetchOptions{IncludeVectors: true})
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 1, 0}, got[0].Vector)
	info, _ = c.Info(ctx)
	assert.Equal(t, int64(1), info.Namespaces["other"].VectorCount)
	require.NoError(t, ns.Reset(ctx))
	got, _ = c.Fetch(ctx, []string{"x"}, upstashvector.FetchOptions{})
	assert.NotNil(t, got[0], "a reset of one namespace leaves the others")

	n, err := c.Delete(ctx, []string{"x", "y", "nope"})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	require.NoError(t, c.Reset(ctx))
	info, _ = c.Info(ctx)
	assert.Zero(t, info.VectorCount)
}

func TestErrorsTheIndexAnswers(t *testing.T) {
	ctx := context.Background()
	_, url := server(t, "")
	err := client(t, url).Upsert(ctx, []upstashvector.Vector{{ID: "x", Vector: []float32{1, 2}}})
	var ve *upstashvector.Error
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, http.StatusBadRequest, ve.StatusCode)
	assert.Contains(t, ve.Message, "dimension")
	assert.False(t, errors.Is(err, upstashvector.ErrUnavailable), "a bad request is no outage")

	wrong, err := upstashvector.New(upstashvector.Options{Options: restclient.Options{URL: url, Token: "wrong"}})
	require.NoError(t, err)
	_, err = wrong.Info(ctx)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, http.StatusUnauthorized, ve.StatusCode)

	_, err = client(t, url).Query(ctx, upstashvector.Query{TopK: 1})
	assert.ErrorContains(t, err, "a vector or data")

	for _, bad := range []restclient.Options{{URL: "http://example.com", Token: "t"}, {URL: url}, {URL: "https://u:p@example.com", Token: "t"}} {
		_, err := upstashvector.New(upstashvector.Options{Options: bad})
		assert.Error(t, err, bad.URL)
	}
}

// Faults a real index cannot be made to show: 5xx answers, throttling, a
// dropped connection, a hung answer, malformed JSON.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int32
	var mode atomic.Value
	fault := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch mode.Load().(string) {
		case "503 once":
			if calls.Load() == 1 {
				http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"result":"Success"}`)
		case "500":
			http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		case "429":
			w.WriteHeader(http.StatusTooManyRequests)
		case "drop":
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		case "garbage":
			fmt.Fprint(w, `{"result": [`)
		}
	}))
	defer fault.Close()
	fast := func(o *upstashvector.Options) {
		o.MinRetryBackoff, o.MaxRetryBackoff, o.Timeout, o.BreakerFailures = time.Millisecond, 2*time.Millisecond, 300*time.Millisecond, 100
	}
	up := []upstashvector.Vector{{ID: "x", Vector: []float32{1}}}

	mode.Store("503 once")
	require.NoError(t, client(t, fault.URL, fast).Upsert(ctx, up), "an upsert is safe to retry")
	assert.Equal(t, int32(2), calls.Load())

	for _, m := range []string{"500", "429", "drop", "hang", "garbage"} {
		mode.Store(m)
		calls.Store(0)
		err := client(t, fault.URL, fast).Upsert(ctx, up)
		assert.ErrorIs(t, err, upstashvector.ErrUnavailable, m)
		assert.NotContains(t, err.Error(), token, m)
		assert.Greater(t, restclient.RetryAfter(err), time.Duration(0), m)
	}

	// The circuit opens after repeated failures, and then fails fast.
	mode.Store("500")
	c := client(t, fault.URL, func(o *upstashvector.Options) {
		fast(o)
		o.BreakerFailures, o.MaxRetries, o.BreakerOpenDelay = 2, -1, time.Minute
	})
	for range 2 {
		_ = c.Upsert(ctx, up)
	}
	assert.Equal(t, restclient.CircuitOpen, c.CircuitState())
	calls.Store(0)
	err := c.Upsert(ctx, up)
	assert.ErrorIs(t, err, restclient.ErrCircuitOpen)
	assert.Zero(t, calls.Load(), "no request while open")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", c, c, c), token)
}

// The server keeps what it answered for across a restart, and drops a
// record torn by a crash.
func TestServerIsDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := vectorserver.New(vectorserver.Options{Token: token, Dimension: 3, Dir: dir})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	c := client(t, hs.URL)
	require.NoError(t, c.Upsert(ctx, []upstashvector.Vector{{ID: "a", Vector: []float32{1, 0, 0}}, {ID: "b", Vector: []float32{0, 1, 0}}}))
	require.NoError(t, c.Namespace("ns").Upsert(ctx, []upstashvector.Vector{{ID: "c", Vector: []float32{0, 0, 1}, Metadata: json.RawMessage(`{"m":1}`)}}))
	_, err = c.Delete(ctx, []string{"b"})
	require.NoError(t, err)
	hs.Close()
	require.NoError(t, s.Close())

	// A torn last record, as a crash mid-append leaves.
	f, err := os.OpenFile(filepath.Join(dir, "vectors.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"op":"upsert","ns":"","items":[{"id":"torn"`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, url := server(t, dir)
	c = client(t, url)
	got, err := c.Fetch(ctx, []string{"a", "b", "torn"}, upstashvector.FetchOptions{})
	require.NoError(t, err)
	assert.NotNil(t, got[0])
	assert.Nil(t, got[1], "the delete is kept")
	assert.Nil(t, got[2], "the torn record is dropped")
	got, err = c.Namespace("ns").Fetch(ctx, []string{"c"}, upstashvector.FetchOptions{IncludeMetadata: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"m":1}`, string(got[0].Metadata))
}
