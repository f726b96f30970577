package memoryeval_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/memoryeval"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

func client(t *testing.T) *memoryeval.Client {
	e := servicetest.New(t, upstashtest.Mini(t))
	hs := httptest.NewServer(e.Handler)
	t.Cleanup(hs.Close)
	return &memoryeval.Client{Base: hs.URL, Key: servicetest.APIKey}
}

// The targets: top-1 family accuracy of similar failures at least 0.9 over
// the corpus, leave one out.
func TestSimilarityQuality(t *testing.T) {
	corpus, err := memoryeval.Corpus()
	require.NoError(t, err)
	rep, err := memoryeval.MeasureSimilarity(context.Background(), client(t), corpus, "corpus")
	require.NoError(t, err)
	t.Logf("%+v", rep)
	assert.GreaterOrEqual(t, rep.Top1, 0.9)
	assert.GreaterOrEqual(t, rep.Top5, rep.Top1)
	assert.GreaterOrEqual(t, rep.Purity, 0.99)
}

// The targets: precision and recall of flaky tests at least 0.95.
func TestFlakinessQuality(t *testing.T) {
	rep, err := memoryeval.MeasureFlakiness(context.Background(), client(t), 7, 8, "gen")
	require.NoError(t, err)
	t.Logf("%+v", rep)
	assert.GreaterOrEqual(t, rep.Precision, 0.95)
	assert.GreaterOrEqual(t, rep.Recall, 0.95)
}
