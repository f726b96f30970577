package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// fault is what the proxy does to the requests between the API and the
// Upstash REST endpoint.
type fault struct {
	name string
	// rate is the share of requests the fault hits (1 for all).
	rate float64
	// latency is added to every request, faulted or not.
	latency time.Duration
	kind    string // "", "5xx", "cut-request", "cut-response", "hang"
}

// faultProxy forwards Upstash REST requests to target, except those its
// current fault hits. These are the failures a real server cannot be made to
// produce on demand: a 5xx, a connection cut before the request reached the
// server or after the server applied it, and an upstream that never answers.
type faultProxy struct {
	target string
	client *http.Client
	cur    atomic.Pointer[fault]
	mu     sync.Mutex
	rng    *rand.Rand
	hits   map[string]int64
}

func newFaultProxy(target string) *faultProxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	p := &faultProxy{target: target, client: &http.Client{Transport: tr}, rng: rand.New(rand.NewPCG(1, 2)), hits: map[string]int64{}}
	p.set(fault{name: "none"})
	return p
}

func (p *faultProxy) set(f fault) { p.cur.Store(&f) }

func (p *faultProxy) hit(f *fault) bool {
	if f.kind == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= f.rate {
		return false
	}
	p.hits[f.kind]++
	return true
}

// Hits returns how many requests each kind of fault hit.
func (p *faultProxy) Hits() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int64{}
	for k, v := range p.hits {
		out[k] = v
	}
	return out
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.cur.Load()
	if f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-r.Context().Done():
			return
		}
	}
	hit := p.hit(f)
	switch {
	case hit && f.kind == "hang":
		// Read the request first: only then does the server watch the
		// connection, and end the request's context when the client goes.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // until the client gives up
		return
	case hit && f.kind == "5xx":
		codes := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
		w.WriteHeader(codes[int(time.Now().UnixNano()/1000)%len(codes)])
		_, _ = io.WriteString(w, `{"error":"injected"}`)
		return
	case hit && f.kind == "cut-request":
		cut(w) // the request never reaches the server
		return
	}
	status, header, body, err := p.forward(r)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if hit && f.kind == "cut-response" {
		cut(w) // the server applied it, and the answer is lost
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (p *faultProxy) forward(r *http.Request) (int, http.Header, []byte, error) {
	in, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(in))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// cut closes the client's connection without an answer.
func cut(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("the proxy's server must support hijacking")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}
