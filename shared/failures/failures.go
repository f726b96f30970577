package failures

import (
	"context"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/keys"
)

// Limits of the failure memory.
const (
	// MaxSimilarText bounds the text of POST /api/failures/similar.
	MaxSimilarText = 16 << 10
	// MaxK bounds k.
	MaxK = 50
	// DefaultK is k when the body leaves it out.
	DefaultK = 5
	// MaxSample bounds a group's sample message, in bytes.
	MaxSample = 2 << 10
	// MaxGroupTests and MaxGroupWorkflows bound the names a group keeps,
	// the latest first.
	MaxGroupTests     = 20
	MaxGroupWorkflows = 20
	// KeepFor is how long a failure group outlives its latest failure.
	KeepFor = 30 * 24 * time.Hour
	// MinScore is the lowest score a similar failure may have: a cosine
	// similarity of 0.4, scaled as Upstash scales it, (1 + cos) / 2.
	// Below it, a failure is not like the text at all.
	MinScore = 0.70
	// StatusUnknown is a similar failure's workflow_status once its
	// workflow's state has expired.
	StatusUnknown = "unknown"
)

// Group is the failures of one fingerprint within a workflow or a suite.
type Group struct {
	Fingerprint   string   `json:"fingerprint"`
	SampleMessage string   `json:"sample_message"`
	Tests         []string `json:"tests"`
	Count         int64    `json:"count"`
	FirstSeen     string   `json:"first_seen"`
	LastSeen      string   `json:"last_seen"`
	Workflows     []string `json:"workflows"`
}

// GroupQuery asks for the failure groups of one workflow or one suite.
type GroupQuery struct {
	Workflow *keys.WorkflowID
	Suite    string
	Limit    int
	Cursor   string
}

// GroupPage is a page of failure groups, the latest seen first.
type GroupPage struct {
	Items      []Group `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// SimilarQuery is the body of POST /api/failures/similar, checked.
type SimilarQuery struct {
	Text    string
	K       int
	Exclude *keys.WorkflowID
}

// Similar is one failure like the text asked about, and where it was last
// seen.
type Similar struct {
	Fingerprint    string  `json:"fingerprint"`
	Score          float64 `json:"score"`
	SampleMessage  string  `json:"sample_message"`
	Test           string  `json:"test"`
	TestSuite      string  `json:"test_suite"`
	WorkflowID     string  `json:"workflow_id"`
	WorkflowStatus string  `json:"workflow_status"`
	SeenAt         string  `json:"seen_at"`
}

// SimilarList is the answer of POST /api/failures/similar, highest score
// first.
type SimilarList struct {
	Items []Similar `json:"items"`
}

// Service reads the failure memory; the results store writes it.
type Service interface {
	Groups(ctx context.Context, q GroupQuery) (GroupPage, error)
	Similar(ctx context.Context, q SimilarQuery) (SimilarList, error)
}

// Sample clips a message to MaxSample bytes on a character boundary, with
// the separators the store uses (ASCII 0x1C to 0x1F) made spaces.
func Sample(msg string) string {
	msg = strings.Map(func(r rune) rune {
		if r >= 0x1c && r <= 0x1f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(msg, "\uFFFD"))
	if len(msg) <= MaxSample {
		return msg
	}
	n := MaxSample
	for n > 0 && msg[n]&0xC0 == 0x80 {
		n--
	}
	return msg[:n]
}

// Entry is a failure for the vector index: its fingerprint is the vector's
// id, its sample the text embedded, and the rest the vector's metadata.
type Entry struct {
	Fingerprint string
	Sample      string
	Test        string
	Suite       string
	Workflow    string
	SeenAt      time.Time
}

// Match is a failure the index found, with its cosine similarity.
type Match struct {
	Fingerprint string
	Score       float64
}

// Index is the vector index of failures (Upstash Vector).
type Index interface {
	// Upsert adds or replaces the entries' vectors; it is idempotent.
	Upsert(ctx context.Context, entries []Entry) error
	// Query finds the k failures nearest to text, highest score first.
	Query(ctx context.Context, text string, k int) ([]Match, error)
}

// VectorReport counts what a delivery of the vector outbox did.
type VectorReport struct {
	Upserted int `json:"upserted"`
	Failed   int `json:"failed"`
}

// Outbox holds the vectors that ingests could not upsert, for the sweeper.
type Outbox interface {
	// DeliverDue upserts up to n due vectors; more says whether more are
	// due.
	DeliverDue(ctx context.Context, n int, now time.Time) (rep VectorReport, more bool, err error)
}
