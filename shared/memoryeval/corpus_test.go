package memoryeval

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed corpus is what Generate makes: WRITE_CORPUS=1 rewrites it.
func TestCorpusIsGenerated(t *testing.T) {
	want := Generate(CorpusSeed)
	if os.Getenv("WRITE_CORPUS") == "1" {
		b, err := json.MarshalIndent(want, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("corpus.json", append(b, '\n'), 0o644))
	}
	got, err := Corpus()
	require.NoError(t, err)
	assert.Equal(t, want, got, "run WRITE_CORPUS=1 go test -run TestCorpusIsGenerated ./shared/memoryeval")
	fams := map[string]int{}
	for _, it := range got {
		fams[it.Family]++
	}
	assert.GreaterOrEqual(t, len(got), 300)
	assert.GreaterOrEqual(t, len(fams), 30)
}
