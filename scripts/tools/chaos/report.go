package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// report is what the run saw, and what it checked.
type report struct {
	settings settings
	phases   []*phase
	hits     map[string]int64
	circuit  []string

	recovered bool

	calls, unavailable, noRetryAfter, hung, transport int64
	statuses                                          string
	maxLatency                                        time.Duration
	bad                                               []string
	violations                                        []string

	// Read back after the final crash.
	workflows, ackedWrites, lostWrites int64
	versionsChecked, versionGaps       int64
	approvals, decided, doubleDecided  int64
	lostApprovals, lostDecisions       int64
	results, lostResults               int64

	goroutinesBefore, goroutinesAfter int
	goroutineDump                     string
}

func (r *report) verify(a *api, l *ledger) {
	for id, acked := range l.versions {
		r.workflows++
		r.ackedWrites += int64(len(acked))
		for i := 1; i < len(acked); i++ {
			if acked[i] <= acked[i-1] {
				r.violations = append(r.violations, fmt.Sprintf("%s: acknowledged version %d after %d", id, acked[i], acked[i-1]))
			}
		}
		st := a.do("GET", "/api/workflow/state/"+id, nil, nil)
		if st.status != http.StatusOK {
			r.lostWrites += int64(len(acked))
			continue
		}
		stored := num(st.body["version"])
		last := acked[len(acked)-1]
		if stored < last {
			r.lostWrites++
			r.violations = append(r.violations, fmt.Sprintf("%s: acknowledged version %d, stored %d", id, last, stored))
		}
		h := a.do("GET", "/api/workflow/state/"+id+"/history", nil, nil)
		events, _ := h.body["events"].([]any)
		seen := map[int64]bool{}
		prev := int64(-1)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			v := num(ev["version"])
			r.versionsChecked++
			if prev >= 0 && v != prev+1 {
				r.versionGaps++
				r.violations = append(r.violations, fmt.Sprintf("%s: history goes from version %d to %d", id, prev, v))
			}
			prev = v
			seen[v] = true
		}
		if prev != stored {
			r.violations = append(r.violations, fmt.Sprintf("%s: history ends at version %d, state is %d", id, prev, stored))
		}
		oldest := stored - int64(len(events)) + 1
		for _, v := range acked {
			if v >= oldest && !seen[v] {
				r.lostWrites++
				r.violations = append(r.violations, fmt.Sprintf("%s: acknowledged version %d is not in the history", id, v))
			}
		}
	}
	for _, id := range l.approvals {
		r.approvals++
		g := a.do("GET", "/api/approval/"+id, nil, nil)
		if g.status != http.StatusOK {
			r.lostApprovals++
			continue
		}
		audit := a.do("GET", "/api/approval/"+id+"/audit", nil, nil)
		events, _ := audit.body["events"].([]any)
		decidedEvents := 0
		for _, e := range events {
			if ev, _ := e.(map[string]any); ev["type"] == "decided" {
				decidedEvents++
			}
		}
		if decidedEvents > 1 {
			r.doubleDecided++
		}
		acked := slices.Compact(slices.Sorted(slices.Values(l.decisions[id])))
		if len(acked) > 1 {
			r.doubleDecided++
			r.violations = append(r.violations, fmt.Sprintf("approval %s: both %v acknowledged", id, acked))
		}
		if len(acked) == 1 {
			r.decided++
			if g.body["status"] != acked[0] || decidedEvents != 1 {
				r.lostDecisions++
				r.violations = append(r.violations, fmt.Sprintf("approval %s: acknowledged %s, reads %v with %d decided events", id, acked[0], g.body["status"], decidedEvents))
			}
		}
	}
	for id, passed := range l.results {
		r.results++
		g := a.do("GET", "/api/results/"+id, nil, nil)
		if g.status != http.StatusOK || num(g.body["passed"]) != passed {
			r.lostResults++
		}
	}
}

func (r *report) failures() []string {
	var f []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			f = append(f, fmt.Sprintf(format, args...))
		}
	}
	lost := r.lostWrites + r.lostApprovals + r.lostDecisions + r.lostResults
	check(lost == 0, "%d acknowledged writes lost", lost)
	check(r.ackedWrites > 0 && r.results > 0 || r.settings.Posters == 0, "too few acknowledged writes to mean anything")
	check(r.unavailable > 0, "no 503 was seen: the faults did not reach the API")
	check(r.noRetryAfter == 0, "%d answers of 503 without Retry-After", r.noRetryAfter)
	check(len(r.bad) == 0, "5xx answers other than 503: %v", r.bad)
	check(r.hung == 0, "%d calls took longer than %s (longest %s)", r.hung, r.settings.Deadline, r.maxLatency)
	check(r.transport == 0, "%d calls got no HTTP answer", r.transport)
	check(slices.Contains(r.circuit, "open"), "the circuit never opened: %v", r.circuit)
	check(len(r.circuit) > 0 && r.circuit[len(r.circuit)-1] == "closed", "the circuit did not close again: %v", r.circuit)
	check(r.recovered, "writes did not succeed again after the faults")
	check(r.doubleDecided == 0, "%d approvals decided twice", r.doubleDecided)
	check(r.versionGaps == 0, "%d skipped or repeated versions", r.versionGaps)
	check(len(r.violations) == 0, "rules broken: %s", strings.Join(r.violations, "; "))
	check(r.goroutinesAfter <= r.goroutinesBefore, "goroutines: %d before, %d after\n%s", r.goroutinesBefore, r.goroutinesAfter, r.goroutineDump)
	return f
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n## Chaos run: %d writers, %d approvers, %d posters, %s a phase, Redis killed %d times for %s\n\n",
		r.settings.Writers, r.settings.Approvers, r.settings.Posters, r.settings.Phase, r.settings.Kills, r.settings.Down)
	fmt.Fprintln(w, "| phase | acknowledged workflow writes |")
	fmt.Fprintln(w, "|---|---|")
	for _, p := range r.phases {
		fmt.Fprintf(w, "| %s | %d |\n", p.name, p.writes)
	}
	fmt.Fprintln(w, "\n| figure | value |")
	fmt.Fprintln(w, "|---|---|")
	row := func(k string, v any) { fmt.Fprintf(w, "| %s | %v |\n", k, v) }
	row("API calls", r.calls)
	row("answers", r.statuses)
	row("503 without Retry-After", r.noRetryAfter)
	row("other 5xx", len(r.bad))
	row("calls with no answer", r.transport)
	row(fmt.Sprintf("calls over %s", r.settings.Deadline), r.hung)
	row("longest call", r.maxLatency.Round(time.Millisecond))
	hits := make([]string, 0, len(r.hits))
	for k, v := range r.hits {
		hits = append(hits, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(hits)
	row("requests faulted at the proxy", strings.Join(hits, ", "))
	row("circuit states seen", strings.Join(r.circuit, " → "))
	row("go-redis log lines (failed dials while Redis was down)", redisLog.n.Load())
	row("writes succeed after the faults", r.recovered)
	row("workflows / acknowledged writes / lost", fmt.Sprintf("%d / %d / %d", r.workflows, r.ackedWrites, r.lostWrites))
	row("history versions checked / skipped or repeated", fmt.Sprintf("%d / %d", r.versionsChecked, r.versionGaps))
	row("approvals / decided / decided twice / lost", fmt.Sprintf("%d / %d / %d / %d", r.approvals, r.decided, r.doubleDecided, r.lostApprovals+r.lostDecisions))
	row("results acknowledged / lost", fmt.Sprintf("%d / %d", r.results, r.lostResults))
	row("goroutines before / after", fmt.Sprintf("%d / %d", r.goroutinesBefore, r.goroutinesAfter))
}
