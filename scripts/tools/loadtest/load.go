package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The workload: what n8n workflows do, in these proportions (out of 100).
var mix = []struct {
	op     string
	weight int
}{
	{"workflow_get", 30},
	{"workflow_patch", 20},
	{"workflow_create", 10},
	{"approval_create", 10},
	{"approval_get", 10},
	{"approval_decide", 10},
	{"results_post", 10},
}

// ops lists the operation names in mix order.
func ops() []string {
	out := make([]string, len(mix))
	for i, m := range mix {
		out[i] = m.op
	}
	return out
}

const (
	hotWorkflows = 1000 // the workflows that reads, patches, approvals and results use
	seedApprov   = 1000 // approvals created before the load, to read and decide
)

func hotID(i int) string { return fmt.Sprintf("HOT-%06d", i%hotWorkflows) }

// workload holds what the operations share: the approvals that can be read,
// and those that are still pending.
type workload struct {
	api     *apiClient
	prefix  string // three letters for this phase's new workflows
	created atomic.Int64
	mu      sync.Mutex
	known   []string // approval ids to read
	pending []string // approval ids to decide
}

// seed creates the hot workflows and the first approvals.
func seed(api *apiClient) (*workload, error) {
	w := &workload{api: api}
	err := parallel(hotWorkflows, 16, func(i int) error {
		_, err := api.must("POST", "/api/workflow/state", fmt.Appendf(nil,
			`{"workflow_id":%q,"feature_description":"Add login to the admin panel","current_stage":"write_tests","metadata":{"pr":%d,"repo":"ai-rails/demo"}}`, hotID(i), i), http.StatusCreated)
		return err
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, seedApprov)
	err = parallel(seedApprov, 16, func(i int) error {
		raw, err := api.must("POST", "/api/approval", approvalBody(i), http.StatusCreated)
		if err == nil {
			ids[i], err = approvalID(raw)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	w.known = ids
	w.pending = slices.Clone(ids)
	return w, nil
}

func approvalBody(i int) []byte {
	return fmt.Appendf(nil, `{"workflow_id":%q,"request_type":"code","content":"Review the tests of PR %d","requester":"ci-bot","expires_in_seconds":3600}`, hotID(i), i)
}

// worker is one client's state: its random source and its figures.
type worker struct {
	rng   *rand.Rand
	buf   bytes.Buffer
	lat   []time.Duration
	calls map[string]int64
	errs  map[string]int64
	n     int64
	last  string // the last error, for the report
}

// step runs one operation and reports whether it answered as expected.
func (w *workload) step(wk *worker, op string) bool {
	i := wk.rng.IntN(1 << 30)
	var status, want int
	var err error
	switch op {
	case "workflow_get":
		want = http.StatusOK
		status, err = w.api.do("GET", "/api/workflow/state/"+hotID(i), nil, &wk.buf)
	case "workflow_patch":
		want = http.StatusOK
		status, err = w.api.do("PATCH", "/api/workflow/state/"+hotID(i),
			fmt.Appendf(nil, `{"current_stage":"implement","metadata":{"iteration":%d,"agent":"claude"}}`, i), &wk.buf)
	case "workflow_create":
		want = http.StatusCreated
		n := w.created.Add(1)
		status, err = w.api.do("POST", "/api/workflow/state", fmt.Appendf(nil,
			`{"workflow_id":"%s-%06d","feature_description":"Add export to CSV","current_stage":"write_tests","metadata":{"pr":%d}}`, w.prefix, n, n), &wk.buf)
	case "approval_create":
		want = http.StatusCreated
		status, err = w.api.do("POST", "/api/approval", approvalBody(i), &wk.buf)
		if err == nil && status == want {
			if id, e := approvalID(wk.buf.Bytes()); e == nil {
				w.mu.Lock()
				w.pending = append(w.pending, id)
				w.known = append(w.known, id)
				w.mu.Unlock()
			}
		}
	case "approval_get":
		w.mu.Lock()
		id := w.known[i%len(w.known)]
		w.mu.Unlock()
		want = http.StatusOK
		status, err = w.api.do("GET", "/api/approval/"+id, nil, &wk.buf)
	case "approval_decide":
		w.mu.Lock()
		var id string
		if len(w.pending) > 0 {
			id = w.pending[len(w.pending)-1]
			w.pending = w.pending[:len(w.pending)-1]
		}
		w.mu.Unlock()
		if id == "" { // nothing left to decide: ask for an approval instead
			return w.step(wk, "approval_create")
		}
		want = http.StatusOK
		status, err = w.api.do("POST", "/api/approval/"+id+"/decision", []byte(`{"decision":"approved","approver":"alice","comment":"Looks good"}`), &wk.buf)
	case "results_post":
		want = http.StatusCreated
		status, err = w.api.do("POST", "/api/results", fmt.Appendf(nil,
			`{"workflow_id":%q,"test_suite":"unit","passed":41,"failed":1,"skipped":2,"duration_seconds":3.2,"coverage_percent":87.5,`+
				`"failure_details":[{"test":"TestLogin","message":"expected 200, got 401","file":"login_test.go","line":12}]}`, hotID(i)), &wk.buf)
	default:
		panic("unknown operation " + op)
	}
	wk.calls[op]++
	if err != nil || status != want {
		wk.errs[op]++
		if err != nil {
			wk.last = fmt.Sprintf("%s: %v", op, err)
		} else {
			wk.last = fmt.Sprintf("%s: %d, want %d: %.200s", op, status, want, wk.buf.Bytes())
		}
		return false
	}
	return true
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }

// pick draws an operation by the mix's weights.
func pick(rng *rand.Rand) string {
	r := rng.IntN(100)
	for _, m := range mix {
		if r < m.weight {
			return m.op
		}
		r -= m.weight
	}
	return mix[0].op
}

// phase runs clients workers for d and gathers their figures.
func (w *workload) phase(clients int, d time.Duration) phaseResult {
	workers := make([]*worker, clients)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for c := range clients {
		wk := &worker{rng: rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano()))), calls: map[string]int64{}, errs: map[string]int64{},
			lat: make([]time.Duration, 0, 1<<14)}
		workers[c] = wk
		wg.Go(func() {
			for time.Now().Before(end) {
				op := pick(wk.rng)
				t := time.Now()
				w.step(wk, op)
				wk.lat = append(wk.lat, time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := phaseResult{Clients: clients, Seconds: elapsed.Seconds(), Calls: map[string]int64{}, Errors: map[string]int64{}}
	for _, wk := range workers {
		r.lat = append(r.lat, wk.lat...)
		for op, n := range wk.calls {
			r.Calls[op] += n
			r.Total += n
		}
		for op, n := range wk.errs {
			r.Errors[op] += n
			r.ErrorCount += n
		}
		if wk.last != "" {
			r.LastError = wk.last
		}
	}
	r.figures()
	return r
}

// figures works out the rate and the percentiles from the counts and the
// latencies.
func (r *phaseResult) figures() {
	slices.Sort(r.lat)
	r.OpsPerSec = float64(r.Total) / r.Seconds
	r.P50, r.P95, r.P99, r.Max = pct(r.lat, 50), pct(r.lat, 95), pct(r.lat, 99), pct(r.lat, 100)
}

// add adds another slice of the same phase to r.
func (r *phaseResult) add(o phaseResult) {
	r.Seconds += o.Seconds
	r.Total += o.Total
	r.ErrorCount += o.ErrorCount
	for op, n := range o.Calls {
		r.Calls[op] += n
	}
	for op, n := range o.Errors {
		r.Errors[op] += n
	}
	if o.LastError != "" {
		r.LastError = o.LastError
	}
	r.lat = append(r.lat, o.lat...)
	r.figures()
}

// pct is the p-th percentile of sorted durations, in milliseconds.
func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // nearest rank
	if i < 1 {
		i = 1
	}
	return float64(sorted[i-1].Microseconds()) / 1000
}

// phaseResult is one load phase's figures.
type phaseResult struct {
	Clients    int              `json:"clients"`
	Seconds    float64          `json:"seconds"`
	Total      int64            `json:"api_calls"`
	OpsPerSec  float64          `json:"api_ops_per_sec"`
	P50        float64          `json:"p50_ms"`
	P95        float64          `json:"p95_ms"`
	P99        float64          `json:"p99_ms"`
	Max        float64          `json:"max_ms"`
	ErrorCount int64            `json:"errors"`
	Calls      map[string]int64 `json:"calls"`
	Errors     map[string]int64 `json:"errors_by_op,omitempty"`
	LastError  string           `json:"last_error,omitempty"`
	// Store cost, measured over the phase.
	UpstashRequestsPerCall float64 `json:"upstash_requests_per_api_call"`
	RedisCommandsPerCall   float64 `json:"redis_commands_per_api_call"`
	// Server is the process under load: "api" or "bare".
	Server string `json:"server"`
	// CPUPerCallUs is each process's CPU per call, in microseconds: the
	// server's, "rest", "redis" and "load_generator".
	CPUPerCallUs map[string]float64 `json:"cpu_us_per_call"`
	// Slices is how many turns the phase took, alternating with the other
	// server's.
	Slices int `json:"slices"`

	lat []time.Duration // every call's, sorted
}
