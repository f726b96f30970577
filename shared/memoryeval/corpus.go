// Package memoryeval measures the failure memory's quality through the
// HTTP API, as a client sees it: how often POST /api/failures/similar names
// a failure of the same family (leave one out), how pure the fingerprint
// groups are, and the precision and recall of GET /api/tests/flaky on run
// histories with known flaky and known broken tests. `make bench-memory`
// reports its figures over the local stack; its tests hold them to the
// targets.
package memoryeval

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Item is one failure message of the corpus, with its family.
type Item struct {
	Family  string `json:"family"`
	Message string `json:"message"`
}

// PerFamily is how many messages each family has.
const PerFamily = 10

// CorpusSeed makes the committed corpus.
const CorpusSeed = 16

//go:embed corpus.json
var corpusJSON []byte

// Corpus returns the committed corpus (corpus.json, which Generate made).
func Corpus() ([]Item, error) {
	var c []Item
	err := json.Unmarshal(corpusJSON, &c)
	return c, err
}

// Generate writes PerFamily messages of every family: their templates in
// turn, with the slots filled from a generator seeded with seed, so that
// messages of one family differ in numbers, paths, ids, positions, times
// and test names, as runs of one failure do.
func Generate(seed uint64) []Item {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tests := []string{"login", "checkout", "orders", "refund", "signup", "profile", "search", "invoice", "billing", "sync", "upload", "cart"}
	users := []string{"alice", "bob", "ci_runner", "svc_app", "tester", "mallory"}
	slot := map[string]func() string{
		"n":    func() string { return fmt.Sprint(r.IntN(90) + 1) },
		"big":  func() string { return fmt.Sprint(1000 * (r.IntN(60) + 1)) },
		"ms":   func() string { return fmt.Sprint(r.IntN(9000) + 10) },
		"line": func() string { return fmt.Sprint(r.IntN(900) + 10) },
		"col":  func() string { return fmt.Sprint(r.IntN(80) + 1) },
		"port": func() string { return fmt.Sprint(r.IntN(50000) + 1024) },
		"id":   func() string { return fmt.Sprint(r.IntN(1_000_000)) },
		"hex":  func() string { return fmt.Sprintf("0x%x", r.Uint32()|0xc000000) },
		"sha":  func() string { return fmt.Sprintf("%012x", r.Uint64()>>16) },
		"uuid": func() string {
			return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()>>16)
		},
		"ts": func() string {
			return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", r.IntN(12)+1, r.IntN(28)+1, r.IntN(24), r.IntN(60), r.IntN(60))
		},
		"tmp": func() string {
			return []string{"/tmp/pytest-of-runner/pytest-" + fmt.Sprint(r.IntN(40)) + "/test_case" + fmt.Sprint(r.IntN(9)),
				"/tmp/TestRun" + fmt.Sprint(r.Uint32()) + "/00" + fmt.Sprint(r.IntN(9)),
				"/var/folders/x2/" + fmt.Sprintf("%x", r.Uint64()) + "/T/jest_" + fmt.Sprint(r.IntN(99))}[r.IntN(3)]
		},
		"user": func() string { return users[r.IntN(len(users))] },
		"test": func() string { return tests[r.IntN(len(tests))] },
	}
	var out []Item
	for _, f := range families {
		for i := range PerFamily {
			msg := f.templates[i%len(f.templates)]
			var b strings.Builder
			for {
				open := strings.IndexByte(msg, '{')
				if open < 0 {
					b.WriteString(msg)
					break
				}
				end := strings.IndexByte(msg[open:], '}')
				fill, ok := slot[msg[open+1:open+max(end, 1)]]
				if end < 0 || !ok {
					b.WriteString(msg[:open+1])
					msg = msg[open+1:]
					continue
				}
				b.WriteString(msg[:open])
				b.WriteString(fill())
				msg = msg[open+end+1:]
			}
			out = append(out, Item{Family: f.name, Message: b.String()})
		}
	}
	return out
}
