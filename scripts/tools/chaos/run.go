package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ai-rails/state-service/functions/localstack"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

const restToken = "chaos-rest-token"

// phase is one stretch of the run under one fault.
type phase struct {
	name   string
	fault  fault
	kill   bool // kill -9 Redis for Down, then restart it
	writes int64
}

func run(ctx context.Context, s settings, progress io.Writer) (*report, error) {
	goroutinesBefore := runtime.NumGoroutine()
	tmp, err := os.MkdirTemp("", "ai-rails-chaos-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rs, err := redistest.LaunchInstalled(tmp, redistest.Durable...)
	if err != nil {
		return nil, err
	}
	defer rs.Stop()

	// The Upstash REST endpoint, the fault proxy in front of it, and the
	// stack, which sees only the proxy.
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	rest, err := restserver.New(restserver.Options{RedisURL: rs.URL(), Token: restToken, Logger: quiet})
	if err != nil {
		return nil, err
	}
	restSrv, restURL, err := serve(rest)
	if err != nil {
		return nil, err
	}
	proxy := newFaultProxy(restURL)
	proxySrv, proxyURL, err := serve(proxy)
	if err != nil {
		return nil, err
	}
	cfg, err := localstack.ReadConfig(config.MapLookup(map[string]string{
		"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_VECTOR_ADDR": "127.0.0.1:0", "DATA_DIR": tmp, "UPSTASH_REDIS_REST_URL": proxyURL, "UPSTASH_REDIS_REST_TOKEN": restToken,
		"SWEEP_INTERVAL": "24h", "BACKUP_INTERVAL": "24h",
	}))
	if err != nil {
		return nil, err
	}
	stack, err := localstack.Start(ctx, cfg, io.Discard, quiet)
	if err != nil {
		return nil, err
	}
	a := newAPI(stack.APIURL, cfg.APIKey, s.Deadline)
	l := newLedger()
	if err := createWorkflows(a, l, s.Writers); err != nil {
		return nil, err
	}

	// The circuit's states, as the client reports them (and /api/health).
	circuit := &circuitLog{}
	stopWatch := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() { circuit.watch(stack.Client, stopWatch) })

	stop := make(chan struct{})
	var actors sync.WaitGroup
	var writes atomic.Int64
	for w := range s.Writers {
		actors.Go(func() { writer(a, l, w, stop, &writes) })
	}
	for n := range s.Approvers {
		actors.Go(func() { approver(a, l, n, stop) })
	}
	for n := range s.Posters {
		actors.Go(func() { poster(a, l, n, stop) })
	}

	phases := []*phase{
		{name: "no fault", fault: fault{name: "none"}},
		{name: "+200 ms latency", fault: fault{name: "latency", latency: 200 * time.Millisecond}},
		{name: "30% 5xx", fault: fault{name: "5xx", kind: "5xx", rate: 0.3}},
		{name: "30% cut before the server", fault: fault{name: "cut-request", kind: "cut-request", rate: 0.3}},
		{name: "30% cut after the server applied", fault: fault{name: "cut-response", kind: "cut-response", rate: 0.3}},
		{name: "hung upstream", fault: fault{name: "hang", kind: "hang", rate: 1}},
		{name: "recovery", fault: fault{name: "none"}},
	}
	for i := range s.Kills {
		phases = append(phases, &phase{name: fmt.Sprintf("kill -9 Redis (%d)", i+1), fault: fault{name: "none"}, kill: true})
	}
	phases = append(phases, &phase{name: "after", fault: fault{name: "none"}})
	var runErr error
	for _, p := range phases {
		// Each fault starts with the circuit closed, so that the last one's
		// open circuit does not shield the store from this one.
		proxy.set(fault{name: "none"})
		for end := time.Now().Add(15 * time.Second); stack.Client.CircuitState() != upstash.CircuitClosed && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Fprintf(progress, "chaos: %s\n", p.name)
		proxy.set(p.fault)
		before := writes.Load()
		if p.kill {
			rs.Stop()
			time.Sleep(s.Down)
			if err := rs.Restart(); err != nil {
				runErr = fmt.Errorf("restart Redis: %w", err)
				break
			}
		}
		time.Sleep(s.Phase)
		p.writes = writes.Load() - before
	}
	close(stop)
	actors.Wait()

	rep := &report{settings: s, phases: phases, hits: proxy.Hits(), violations: l.violations}
	if runErr != nil {
		return nil, runErr
	}
	// Writes succeed again once the faults end.
	rep.recovered = recovers(a, workflowID(0, 0), 15*time.Second)
	close(stopWatch)
	watch.Wait()
	rep.circuit = circuit.states()

	// One more crash, with nothing in flight, then read everything back.
	rs.Stop()
	if err := rs.Restart(); err != nil {
		return nil, err
	}
	fmt.Fprintln(progress, "chaos: reading back every acknowledged write")
	check := newAPI(stack.APIURL, cfg.APIKey, s.Deadline)
	if !recovers(check, workflowID(0, 0), 15*time.Second) {
		return nil, errors.New("the stack did not answer after the last restart")
	}
	rep.verify(check, l)
	rep.calls, rep.statuses, rep.unavailable = a.calls, a.statusLine(), a.unavailable
	rep.noRetryAfter, rep.hung, rep.maxLatency, rep.transport, rep.bad = a.noRetry, a.hung, a.max, a.transport, a.bad

	// Everything stops; the goroutines must go back to where they were.
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, err := range []error{stack.Shutdown(shut), proxySrv.Shutdown(shut), restSrv.Shutdown(shut)} {
		if err != nil {
			rep.violations = append(rep.violations, "shutdown: "+err.Error())
		}
	}
	_ = rest.Close()
	rs.Stop()
	for _, c := range []*http.Client{a.http, check.http, proxy.client} {
		c.CloseIdleConnections()
	}
	rep.goroutinesBefore = goroutinesBefore
	deadline := time.Now().Add(5 * time.Second)
	for rep.goroutinesAfter = runtime.NumGoroutine(); rep.goroutinesAfter > goroutinesBefore && time.Now().Before(deadline); rep.goroutinesAfter = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	if rep.goroutinesAfter > goroutinesBefore {
		buf := make([]byte, 1<<20)
		rep.goroutineDump = string(buf[:runtime.Stack(buf, true)])
	}
	return rep, nil
}

// recovers reports whether a read of the workflow succeeds within d.
func recovers(a *api, id string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if a.do("GET", "/api/workflow/state/"+id, nil, nil).status == http.StatusOK {
			return true
		}
	}
	return false
}

func serve(h http.Handler) (*http.Server, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := httpkit.NewServer(h, httpkit.Timeouts{})
	go func() { _ = srv.Serve(l) }()
	return srv, "http://" + l.Addr().String(), nil
}

// circuitLog records the circuit breaker's state changes.
type circuitLog struct {
	mu  sync.Mutex
	seq []string
}

func (c *circuitLog) watch(client *upstash.Client, stop <-chan struct{}) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		st := client.CircuitState()
		c.mu.Lock()
		if len(c.seq) == 0 || c.seq[len(c.seq)-1] != st {
			c.seq = append(c.seq, st)
		}
		c.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func (c *circuitLog) states() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seq)
}
