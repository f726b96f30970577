package memoryeval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"

	"github.com/ai-rails/state-service/shared/failures"
)

// Client calls the API at Base with the key.
type Client struct {
	Base, Key string
	HTTP      *http.Client
}

// call sends one request and decodes the JSON answer into out; a status
// other than want is an error.
func (c *Client) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("x-api-key", c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Similarity is how well similar failures and fingerprints sort the corpus.
type Similarity struct {
	Messages     int `json:"messages"`
	Families     int `json:"families"`
	Fingerprints int `json:"fingerprints"`
	// Purity is the share of messages whose fingerprint group's most common
	// family is their own.
	Purity float64 `json:"purity"`
	// Top1 and Top5 are the shares of messages for which the first, or any
	// of the first five, of POST /api/failures/similar's answers, leaving
	// the message's own workflow out, is of the message's family.
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
	// Empty counts the messages that found nothing.
	Empty int `json:"empty"`
	// Top1Unseen and Top5Unseen leave out every failure with the message's
	// own fingerprint too: they measure the embedding alone, on the same
	// cause worded another way (pytest's words against Go's), as a failure
	// never seen before in that form is.
	Top1Unseen float64 `json:"top1_unseen_fingerprint"`
	Top5Unseen float64 `json:"top5_unseen_fingerprint"`
}

// MeasureSimilarity stores each message of the corpus as the failure of a
// test in a workflow of its own, then asks for the failures similar to
// each, leaving its workflow out: leave one out, through the API.
func MeasureSimilarity(ctx context.Context, c *Client, corpus []Item, suite string) (Similarity, error) {
	rep := Similarity{Messages: len(corpus)}
	fams := map[string]bool{}
	groups := map[string]map[string]int{} // fingerprint -> family -> messages
	for i, it := range corpus {
		fams[it.Family] = true
		test := fmt.Sprintf("test_%03d", i)
		fp := failures.Fingerprint("corpus."+test, it.Message)
		if groups[fp] == nil {
			groups[fp] = map[string]int{}
		}
		groups[fp][it.Family]++
		body := map[string]any{"workflow_id": workflowOf(i), "test_suite": suite,
			"cases": []any{map[string]any{"name": test, "classname": "corpus", "outcome": "failed", "message": it.Message}}}
		if err := c.call(ctx, "POST", "/api/results", body, http.StatusCreated, nil); err != nil {
			return rep, err
		}
	}
	rep.Families, rep.Fingerprints = len(fams), len(groups)
	familyOf := map[string]string{}
	pure := 0
	for fp, byFamily := range groups {
		best, n := "", -1
		for f, k := range byFamily {
			if k > n || k == n && f < best {
				best, n = f, k
			}
		}
		familyOf[fp] = best
		pure += n
	}
	rep.Purity = float64(pure) / float64(len(corpus))
	var top1, top5, unseen1, unseen5 int
	for i, it := range corpus {
		var out failures.SimilarList
		body := map[string]any{"text": it.Message, "k": 10, "exclude_workflow_id": workflowOf(i)}
		if err := c.call(ctx, "POST", "/api/failures/similar", body, http.StatusOK, &out); err != nil {
			return rep, err
		}
		if len(out.Items) == 0 {
			rep.Empty++
			continue
		}
		top1 += hit(out.Items[:1], familyOf, it.Family)
		top5 += hit(out.Items[:min(5, len(out.Items))], familyOf, it.Family)
		own := failures.Fingerprint(fmt.Sprintf("corpus.test_%03d", i), it.Message)
		var others []failures.Similar
		for _, x := range out.Items {
			if x.Fingerprint != own {
				others = append(others, x)
			}
		}
		if len(others) > 0 {
			unseen1 += hit(others[:1], familyOf, it.Family)
			unseen5 += hit(others[:min(5, len(others))], familyOf, it.Family)
		}
	}
	n := float64(len(corpus))
	rep.Top1, rep.Top5 = float64(top1)/n, float64(top5)/n
	rep.Top1Unseen, rep.Top5Unseen = float64(unseen1)/n, float64(unseen5)/n
	return rep, nil
}

func workflowOf(i int) string { return fmt.Sprintf("EVL-%06d", i) }

// Flakiness is how well GET /api/tests/flaky finds the flaky tests of
// generated histories.
type Flakiness struct {
	Tests     int     `json:"tests"`
	Flaky     int     `json:"flaky"`
	Reported  int     `json:"reported"`
	TruePos   int     `json:"true_positives"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// kinds of generated test.
const (
	kindStable = iota
	kindFlaky
	kindBroken
	kindFixed
	kindBrokenTwice
)

// MeasureFlakiness generates run histories of known tests and asks which
// are flaky. Each scenario is a suite: one where every run names its
// commit (each commit run three times, as CI retries do), one where no run
// does. Flaky tests fail at random, 15% to 50% of runs with commits, 25%
// to 50% without; broken ones pass until a run and fail from then on;
// fixed ones the other way round; some break, are fixed and break again;
// the rest pass. tests is per kind and scenario.
func MeasureFlakiness(ctx context.Context, c *Client, seed uint64, tests int, suitePrefix string) (Flakiness, error) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	var rep Flakiness
	for _, withCommits := range []bool{true, false} {
		suite := suitePrefix + "-no-commits"
		if withCommits {
			suite = suitePrefix + "-commits"
		}
		type gen struct {
			name  string
			kind  int
			p     float64
			at    int // the run it breaks or is fixed at
			again int
		}
		var gens []gen
		kinds := []int{kindStable, kindFlaky, kindBroken, kindFixed, kindBrokenTwice}
		const runs = 30
		for _, k := range kinds {
			for j := range tests {
				g := gen{name: fmt.Sprintf("k%d_%02d", k, j), kind: k, at: 5 + r.IntN(20)}
				g.again = g.at + 3 + r.IntN(runs-g.at-3)
				if withCommits {
					g.p = 0.15 + 0.35*r.Float64()
				} else {
					g.p = 0.25 + 0.25*r.Float64()
				}
				gens = append(gens, g)
			}
		}
		truth := map[string]bool{}
		for _, g := range gens {
			truth[g.name] = g.kind == kindFlaky
		}
		for run := range runs {
			var cases []any
			for _, g := range gens {
				// With commits, a commit changes every third run: a test
				// that breaks does so at a commit boundary.
				at, again := g.at, g.again
				if withCommits {
					at, again = at/3*3, again/3*3
				}
				failed := false
				switch g.kind {
				case kindFlaky:
					failed = r.Float64() < g.p
				case kindBroken:
					failed = run >= at
				case kindFixed:
					failed = run < at
				case kindBrokenTwice:
					failed = run >= at && run < at+2 || run >= again
					if withCommits {
						failed = run >= at && run < at+3 || run >= again
					}
				}
				o := "passed"
				if failed {
					o = "failed"
				}
				cases = append(cases, map[string]any{"name": g.name, "outcome": o, "message": "boom " + g.name})
			}
			body := map[string]any{"workflow_id": "FLK-000001", "test_suite": suite, "cases": cases}
			if withCommits {
				body["commit"] = fmt.Sprintf("%07x", 0x1000000+run/3)
				body["attempt"] = run%3 + 1
			}
			if err := c.call(ctx, "POST", "/api/results", body, http.StatusCreated, nil); err != nil {
				return rep, err
			}
		}
		var page struct {
			Items []struct {
				Test string `json:"test"`
			} `json:"items"`
		}
		if err := c.call(ctx, "GET", "/api/tests/flaky?limit=200&test_suite="+url.QueryEscape(suite), nil, http.StatusOK, &page); err != nil {
			return rep, err
		}
		rep.Tests += len(gens)
		for _, g := range gens {
			if g.kind == kindFlaky {
				rep.Flaky++
			}
		}
		rep.Reported += len(page.Items)
		for _, it := range page.Items {
			if truth[it.Test] {
				rep.TruePos++
			}
		}
	}
	if rep.Reported > 0 {
		rep.Precision = float64(rep.TruePos) / float64(rep.Reported)
	}
	if rep.Flaky > 0 {
		rep.Recall = float64(rep.TruePos) / float64(rep.Flaky)
	}
	return rep, nil
}

// hit is 1 when one of items is of the family.
func hit(items []failures.Similar, familyOf map[string]string, family string) int {
	for _, x := range items {
		if familyOf[x.Fingerprint] == family {
			return 1
		}
	}
	return 0
}
