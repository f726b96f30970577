package vectorserver

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
)

// item is one stored vector, scaled to length 1 for cosine similarity.
type item struct {
	ID       string          `json:"id"`
	Vector   []float32       `json:"vector"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Data     string          `json:"data,omitempty"`
}

// space is one namespace's vectors.
type space struct {
	byID map[string]*item
	// sorted holds the ids in order for range; nil when it must be rebuilt.
	sorted []string
}

func newSpace() *space { return &space{byID: map[string]*item{}} }

func (s *space) put(it *item) {
	if _, ok := s.byID[it.ID]; !ok {
		s.sorted = nil
	}
	s.byID[it.ID] = it
}

func (s *space) remove(id string) bool {
	if _, ok := s.byID[id]; !ok {
		return false
	}
	delete(s.byID, id)
	s.sorted = nil
	return true
}

func (s *space) ids() []string {
	if s.sorted == nil {
		s.sorted = make([]string, 0, len(s.byID))
		for id := range s.byID {
			s.sorted = append(s.sorted, id)
		}
		sort.Strings(s.sorted)
	}
	return s.sorted
}

// unit scales v to length 1; the zero vector stays zero.
func unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	n = math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// hit is a scored vector.
type hit struct {
	it    *item
	score float64
}

// nearest finds the k vectors most similar to q (unit length) by exact
// cosine similarity, scored as Upstash scores cosine: (1 + cos) / 2, so 1
// is the same direction and 0 the opposite.
func (s *space) nearest(q []float32, k int) []hit {
	if k <= 0 {
		return nil
	}
	hits := make([]hit, 0, min(k+1, len(s.byID)))
	for _, it := range s.byID {
		var dot float32
		for i, x := range it.Vector {
			dot += x * q[i]
		}
		h := hit{it, (1 + float64(dot)) / 2}
		if len(hits) == k && !better(h, hits[k-1]) {
			continue
		}
		i := sort.Search(len(hits), func(i int) bool { return better(h, hits[i]) })
		if len(hits) < k {
			hits = append(hits, hit{})
		}
		copy(hits[i+1:], hits[i:len(hits)-1])
		hits[i] = h
	}
	return hits
}

// better orders hits by score, then by id, so that equal scores answer in
// a stable order.
func better(a, b hit) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return strings.Compare(a.it.ID, b.it.ID) < 0
}
