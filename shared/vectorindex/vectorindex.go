// Package vectorindex is the failure memory's vector index over Upstash
// Vector: the failures.Index. A failure's vector has its fingerprint as id,
// the in-process embedding of its sample (failures.Embed) as vector, or the
// text for Upstash to embed (VECTOR_EMBEDDING=upstash), and where it was
// seen as metadata.
package vectorindex

import (
	"context"
	"encoding/json"

	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/upstashvector"
)

// Embedding modes (VECTOR_EMBEDDING).
const (
	// EmbedLocal embeds in process: the index is made with
	// failures.Dimension and cosine similarity.
	EmbedLocal = "local"
	// EmbedUpstash sends the text, for an index made with one of Upstash's
	// embedding models.
	EmbedUpstash = "upstash"
)

// MaxBatch is the most vectors one upsert carries.
const MaxBatch = 1000

// Index is the failures.Index over an Upstash Vector client.
type Index struct {
	c    *upstashvector.Client
	mode string
}

// New returns the index over c, embedding as mode says ("" is EmbedLocal).
func New(c *upstashvector.Client, mode string) *Index {
	if mode == "" {
		mode = EmbedLocal
	}
	return &Index{c: c, mode: mode}
}

// metadata is what a failure's vector carries besides its vector.
type metadata struct {
	Test      string `json:"test"`
	TestSuite string `json:"test_suite"`
	Workflow  string `json:"workflow_id"`
	SeenAt    string `json:"seen_at"`
}

// text is what a failure's vector is made from, normalised (EmbedText):
// its sample's, or its test's name when the sample says nothing.
func text(e failures.Entry) string {
	if t := failures.EmbedText(e.Sample); t != "" {
		return t
	}
	return failures.EmbedText("test: " + e.Test)
}

// Upsert adds or replaces the entries' vectors, MaxBatch to a request.
func (x *Index) Upsert(ctx context.Context, entries []failures.Entry) error {
	for len(entries) > 0 {
		batch := entries[:min(len(entries), MaxBatch)]
		entries = entries[len(batch):]
		var err error
		if x.mode == EmbedUpstash {
			data := make([]upstashvector.Data, len(batch))
			for i, e := range batch {
				data[i] = upstashvector.Data{ID: e.Fingerprint, Data: text(e), Metadata: meta(e)}
			}
			err = x.c.UpsertData(ctx, data)
		} else {
			vs := make([]upstashvector.Vector, len(batch))
			for i, e := range batch {
				vs[i] = upstashvector.Vector{ID: e.Fingerprint, Vector: failures.Vector(text(e)), Metadata: meta(e), Data: e.Sample}
			}
			err = x.c.Upsert(ctx, vs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func meta(e failures.Entry) json.RawMessage {
	b, _ := json.Marshal(metadata{Test: e.Test, TestSuite: e.Suite, Workflow: e.Workflow, SeenAt: jsondoc.FormatTime(e.SeenAt)})
	return b
}

// Query finds the k failures nearest to the text. A text that normalises to
// nothing finds nothing.
func (x *Index) Query(ctx context.Context, q string, k int) ([]failures.Match, error) {
	t := failures.EmbedText(q)
	if !failures.Searchable(t) {
		return nil, nil
	}
	query := upstashvector.Query{TopK: k}
	if x.mode == EmbedUpstash {
		query.Data = t
	} else {
		query.Vector = failures.Vector(t)
	}
	hits, err := x.c.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	out := make([]failures.Match, 0, len(hits))
	for _, h := range hits {
		if failures.IsFingerprint(h.ID) {
			// The index's (1 + cos) / 2 of float32 vectors can overshoot 1
			// by a rounding error (1.00000006 for the same text).
			out = append(out, failures.Match{Fingerprint: h.ID, Score: min(max(h.Score, 0), 1)})
		}
	}
	return out, nil
}
