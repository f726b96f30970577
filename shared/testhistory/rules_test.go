package testhistory

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"
)

func runs(outcomes string, commits ...string) []Run {
	out := make([]Run, len(outcomes))
	for i, c := range outcomes {
		o := map[rune]string{'p': "passed", 'f': "failed", 's': "skipped"}[c]
		out[i] = Run{Outcome: o, At: "t" + string(rune('a'+i))}
		if i < len(commits) && commits[i] != "" {
			out[i].Commit = &commits[i]
		}
	}
	return out
}

func TestJudge(t *testing.T) {
	r := DefaultRules
	for name, tc := range map[string]struct {
		runs   []Run
		flaky  bool
		reason string
	}{
		"same commit":                     {runs("pf", "c1", "c1"), true, ReasonSameCommit},
		"changed between commits":         {runs("ffffpppp", "c2", "c2", "c2", "c2", "c1", "c1", "c1", "c1"), false, ""},
		"alternating, no commits":         {runs("pfpfpfpfpf"), true, ReasonFlipRate},
		"alternating, too few runs":       {runs("pfpfpfpfp"), false, ""},
		"broken once, no commits":         {runs("ffffffpppppppp"), false, ""},
		"skips do not count":              {runs("spspsfsfsp", "c1", "c1", "c1", "c1", "c1", "c1", "c1", "c1", "c1", "c1"), true, ReasonSameCommit},
		"one run":                         {runs("f"), false, ""},
		"mixed commits: same-commit only": {runs("pfpfpfpfpfpf", "c1", "", "c2", "", "c3", "", "c4", "", "c5", "", "c6", ""), false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			f, ok := r.Judge("unit", "t", tc.runs)
			assert.Equal(t, tc.flaky, ok)
			assert.Equal(t, tc.reason, f.Reason)
		})
	}
	f, _ := r.Judge("unit", "t", runs("pfpfpfpfpf"))
	assert.Equal(t, Flaky{Test: "t", TestSuite: "unit", Runs: 10, Failures: 5, Flips: 9, Score: 1, Reason: ReasonFlipRate, FirstSeen: "tj", LastSeen: "ta"}, f)
}

// The figures always agree: score is flips ÷ (runs − 1), at most Window
// runs, failures and flips within them, and a flaky test has both
// outcomes.
func TestJudgeFigures(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 80).Draw(t, "n")
		commits := rapid.SliceOfN(rapid.SampledFrom([]string{"", "c1", "c2"}), n, n).Draw(t, "commits")
		outcomes := rapid.StringMatching(`[pfs]{0,80}`).Draw(t, "outcomes")
		if len(outcomes) > n {
			outcomes = outcomes[:n]
		}
		rules := Rules{MinRuns: rapid.IntRange(2, 50).Draw(t, "min"), FlipRate: rapid.Float64Range(0.01, 1).Draw(t, "rate")}
		f, ok := rules.Judge("s", "t", runs(outcomes, commits...))
		if !ok {
			return
		}
		if f.Runs < 2 || f.Runs > Window || f.Failures < 1 || f.Failures >= f.Runs || f.Flips < 1 || f.Flips > f.Runs-1 {
			t.Fatalf("figures %+v", f)
		}
		if want := float64(f.Flips) / float64(f.Runs-1); f.Score != want {
			t.Fatalf("score %v, want %v", f.Score, want)
		}
		if f.Reason == ReasonFlipRate && (f.Runs < rules.MinRuns || f.Score < rules.FlipRate) {
			t.Fatalf("flip-rate below the rules: %+v", f)
		}
	})
}
