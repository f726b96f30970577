package vectorindex_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstashvector"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
	"github.com/ai-rails/state-service/shared/vectorindex"
)

// index returns the index over a local server that, like an Upstash index
// made with an embedding model, embeds data itself; requests counts the
// calls by path.
func index(t *testing.T, mode string) (*vectorindex.Index, *upstashvector.Client, map[string]*atomic.Int64) {
	t.Helper()
	s, err := vectorserver.New(vectorserver.Options{Token: "t", Dimension: failures.Dimension, Embed: failures.Embed})
	require.NoError(t, err)
	counts := map[string]*atomic.Int64{"/upsert": {}, "/upsert-data": {}, "/query": {}, "/query-data": {}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := counts[r.URL.Path]; c != nil {
			c.Add(1)
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := upstashvector.New(upstashvector.Options{Options: restclient.Options{URL: hs.URL, Token: "t", Timeout: 10 * time.Second}})
	require.NoError(t, err)
	return vectorindex.New(c, mode), c, counts
}

func entry(fp, sample string) failures.Entry {
	return failures.Entry{Fingerprint: fp, Sample: sample, Test: "tests.t", Suite: "unit", Workflow: "ABC-123456",
		SeenAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
}

func TestBothEmbeddings(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{vectorindex.EmbedLocal, vectorindex.EmbedUpstash} {
		t.Run(mode, func(t *testing.T) {
			x, c, counts := index(t, mode)
			require.NoError(t, x.Upsert(ctx, []failures.Entry{
				entry("00000000000000a1", "KeyError: 'user_id' in the profile handler"),
				entry("00000000000000b2", "java.net.SocketException: Connection reset"),
				entry("00000000000000c3", ""), // says nothing: embedded by its test's name
			}))
			upserts, queries := "/upsert", "/query"
			if mode == vectorindex.EmbedUpstash {
				upserts, queries = "/upsert-data", "/query-data"
			}
			assert.Equal(t, int64(1), counts[upserts].Load(), "one request")
			got, err := x.Query(ctx, "KeyError: 'user_id' in the orders handler", 2)
			require.NoError(t, err)
			require.NotEmpty(t, got)
			assert.Equal(t, "00000000000000a1", got[0].Fingerprint)
			assert.Equal(t, int64(1), counts[queries].Load())

			vs, err := c.Fetch(ctx, []string{"00000000000000a1"}, upstashvector.FetchOptions{IncludeMetadata: true})
			require.NoError(t, err)
			var meta map[string]string
			require.NoError(t, json.Unmarshal(vs[0].Metadata, &meta))
			assert.Equal(t, map[string]string{"test": "tests.t", "test_suite": "unit", "workflow_id": "ABC-123456",
				"seen_at": "2026-12-04T10:00:00.000000000Z"}, meta)

			none, err := x.Query(ctx, "42 0x1f 2026-01-01", 5)
			require.NoError(t, err)
			assert.Empty(t, none, "a text of placeholders searches nothing")
		})
	}
}

func TestUpsertsInBatches(t *testing.T) {
	x, c, counts := index(t, vectorindex.EmbedLocal)
	var entries []failures.Entry
	for i := range vectorindex.MaxBatch + 1 {
		entries = append(entries, entry(fmt.Sprintf("%016x", i), fmt.Sprintf("failure number %d in module m%d", i, i)))
	}
	require.NoError(t, x.Upsert(context.Background(), entries))
	assert.Equal(t, int64(2), counts["/upsert"].Load())
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(vectorindex.MaxBatch+1), info.VectorCount)
}
