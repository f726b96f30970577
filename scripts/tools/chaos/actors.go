package main

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ledger is what the service acknowledged, to be read back at the end.
type ledger struct {
	mu sync.Mutex
	// versions are the versions each workflow's 2xx answers gave, in order.
	versions map[string][]int64
	// decisions are the decisions acknowledged per approval (any approver).
	decisions map[string][]string
	approvals []string
	results   map[string]int64 // test_id → passed count
	// violations are broken rules seen while running.
	violations []string
}

func newLedger() *ledger {
	return &ledger{versions: map[string][]int64{}, decisions: map[string][]string{}, results: map[string]int64{}}
}

func (l *ledger) violate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 20 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

func workflowID(writer, i int) string { return fmt.Sprintf("CHA-%03d%03d", writer, i) }

const workflowsPerWriter = 4

// createWorkflows makes every writer's workflows, before any fault.
func createWorkflows(a *api, l *ledger, writers int) error {
	for w := range writers {
		for i := range workflowsPerWriter {
			id := workflowID(w, i)
			ans := a.do("POST", "/api/workflow/state", map[string]any{"workflow_id": id, "feature_description": "chaos"}, nil)
			if ans.status != http.StatusCreated {
				return fmt.Errorf("create %s: %d %s", id, ans.status, ans.raw)
			}
			l.versions[id] = []int64{num(ans.body["version"])}
		}
	}
	return nil
}

// writer patches its own workflows one after the other, each write
// conditional on the version it last saw, so that every 2xx answer must
// carry exactly the next version.
func writer(a *api, l *ledger, w int, stop <-chan struct{}, writes *atomic.Int64) {
	known := map[string]int64{}
	for i := range workflowsPerWriter {
		known[workflowID(w, i)] = 1
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		id := workflowID(w, n%workflowsPerWriter)
		ans := a.do("PATCH", "/api/workflow/state/"+id,
			map[string]any{"current_stage": "step-" + strconv.Itoa(n), "metadata": map[string]any{"n": n}},
			map[string]string{"If-Match": `"` + strconv.FormatInt(known[id], 10) + `"`})
		switch ans.status {
		case http.StatusOK:
			v := num(ans.body["version"])
			if v != known[id]+1 {
				l.violate("%s: a write conditional on version %d answered version %d", id, known[id], v)
			}
			known[id] = v
			writes.Add(1)
			l.mu.Lock()
			l.versions[id] = append(l.versions[id], v)
			l.mu.Unlock()
		case http.StatusPreconditionFailed, http.StatusServiceUnavailable, 0:
			// Stale (an earlier write applied without an answer reaching
			// us) or unavailable: learn the current version when we can.
			if ans.status != http.StatusPreconditionFailed {
				backOff()
			}
			if g := a.do("GET", "/api/workflow/state/"+id, nil, nil); g.status == http.StatusOK {
				known[id] = num(g.body["version"])
			}
		default:
			l.violate("%s: PATCH answered %d: %s", id, ans.status, ans.raw)
		}
	}
}

// approver asks for approvals and has alice approve and bob reject each at
// the same moment: only one decision may ever win.
func approver(a *api, l *ledger, n int, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		c := a.do("POST", "/api/approval", map[string]any{"workflow_id": workflowID(0, 0), "request_type": "deploy",
			"content": "chaos", "requester": "ci-bot"}, map[string]string{"Idempotency-Key": fmt.Sprintf("chaos-%d-%d", n, i)})
		if c.status != http.StatusCreated {
			backOff()
			continue
		}
		id, _ := c.body["approval_id"].(string)
		l.mu.Lock()
		l.approvals = append(l.approvals, id)
		l.mu.Unlock()
		var wg sync.WaitGroup
		for _, d := range []struct{ who, what string }{{"alice", "approved"}, {"bob", "rejected"}} {
			wg.Go(func() {
				for try := 0; try < 20; try++ {
					ans := a.do("POST", "/api/approval/"+id+"/decision", map[string]any{"decision": d.what, "approver": d.who}, nil)
					switch ans.status {
					case http.StatusOK:
						l.mu.Lock()
						l.decisions[id] = append(l.decisions[id], d.what)
						l.mu.Unlock()
						return
					case http.StatusConflict:
						return
					case http.StatusServiceUnavailable, 0:
						backOff()
					default:
						l.violate("decide %s: %d %s", id, ans.status, ans.raw)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// poster stores test results with ids of its own.
func poster(a *api, l *ledger, n int, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("chaos-%d-%d", n, i)
		ans := a.do("POST", "/api/results", map[string]any{"test_id": id, "workflow_id": workflowID(0, 1), "test_suite": "unit",
			"passed": i, "failed": 0, "skipped": 0, "duration_seconds": 1}, nil)
		switch ans.status {
		case http.StatusCreated:
			l.mu.Lock()
			l.results[id] = int64(i)
			l.mu.Unlock()
		case http.StatusServiceUnavailable, 0:
			backOff()
		case http.StatusConflict:
		default:
			l.violate("result %s: %d %s", id, ans.status, ans.raw)
		}
	}
}

// backOff is a client's pause after a 503, as n8n's retry on fail would
// make: shorter than Retry-After, so that the run sees the recovery soon.
func backOff() { time.Sleep(50 * time.Millisecond) }
