package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// api calls the service and records how every answer looked.
type api struct {
	http     *http.Client
	base     string
	key      string
	deadline time.Duration

	mu          sync.Mutex
	statuses    map[int]int64
	transport   int64 // calls that got no HTTP answer at all
	noRetry     int64 // 503s without Retry-After
	hung        int64 // calls slower than the deadline
	max         time.Duration
	bad         []string // samples of 5xx answers other than 503
	calls       int64
	unavailable int64
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func newAPI(base, key string, deadline time.Duration) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &api{http: &http.Client{Transport: tr, Timeout: 4 * deadline}, base: base, key: key, deadline: deadline, statuses: map[int]int64{}}
}

func (a *api) do(method, path string, body any, header map[string]string) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("x-api-key", a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := a.http.Do(req)
	took := time.Since(start)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if took > a.max {
		a.max = took
	}
	if took > a.deadline {
		a.hung++
	}
	if err != nil {
		a.transport++
		return answer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.statuses[resp.StatusCode]++
	if resp.StatusCode == http.StatusServiceUnavailable {
		a.unavailable++
		if resp.Header.Get("Retry-After") == "" {
			a.noRetry++
		}
	} else if resp.StatusCode >= 500 && len(a.bad) < 5 {
		a.bad = append(a.bad, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, raw))
	}
	out := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// statusLine lists the answers by status code.
func (a *api) statusLine() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	codes := make([]int, 0, len(a.statuses))
	for c := range a.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b bytes.Buffer
	for i, c := range codes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d×%d", c, a.statuses[c])
	}
	return b.String()
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
