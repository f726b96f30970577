package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/redistest"
)

// measureMemory creates n workflows through the API, each with its history
// and index entries, and returns what they added to used_memory; then as
// many again under Idempotency-Keys, whose records the difference shows;
// then what one update of each of the first adds (its history's two events).
func measureMemory(ctx context.Context, rdb *redis.Client, api *apiClient, n int) (memoryResult, error) {
	create := func(prefix string, keyed bool) (int64, error) {
		before, err := redistest.UsedMemory(ctx, rdb)
		if err != nil {
			return 0, err
		}
		err = parallel(n, 16, func(i int) error {
			var header []string
			if keyed {
				header = []string{"Idempotency-Key", fmt.Sprintf("bench-memory-%08d", i)}
			}
			_, err := api.must("POST", "/api/workflow/state", fmt.Appendf(nil,
				`{"workflow_id":"%s-%06d","feature_description":"Add login to the admin panel","current_stage":"write_tests","metadata":{"pr":%d,"repo":"ai-rails/demo"}}`, prefix, i, i),
				http.StatusCreated, header...)
			return err
		})
		if err != nil {
			return 0, err
		}
		after, err := redistest.UsedMemory(ctx, rdb)
		return after - before, err
	}
	plain, err := create("MEM", false)
	if err != nil {
		return memoryResult{}, err
	}
	keyed, err := create("MEK", true)
	if err != nil {
		return memoryResult{}, err
	}
	// One update each of the first ones: what a history of two events adds.
	before, err := redistest.UsedMemory(ctx, rdb)
	if err != nil {
		return memoryResult{}, err
	}
	err = parallel(n, 16, func(i int) error {
		_, err := api.must("PATCH", fmt.Sprintf("/api/workflow/state/MEM-%06d", i), []byte(`{"status":"in_progress","current_stage":"implement"}`), http.StatusOK)
		return err
	})
	if err != nil {
		return memoryResult{}, err
	}
	after, err := redistest.UsedMemory(ctx, rdb)
	if err != nil {
		return memoryResult{}, err
	}
	return memoryResult{Workflows: n, BytesDelta: plain, KeyedBytesDelta: keyed, UpdateBytesDelta: after - before}, nil
}

// measureRoutes calls each route of the mix on its own, calls times from
// eight clients, and divides what the store counted, and what each process
// used, by the calls.
func (b *bench) measureRoutes(ctx context.Context, w *workload, calls int) ([]routeCost, error) {
	const clients = 8
	w.prefix = "RTE"
	w.created.Store(0)
	var out []routeCost
	for _, op := range ops() {
		before, err := b.snap(ctx, procAPI)
		if err != nil {
			return nil, err
		}
		errs := make([]string, clients)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				wk := &worker{rng: newRand(), calls: map[string]int64{}, errs: map[string]int64{}}
				for i := c; i < calls; i += clients {
					if !w.step(wk, op) {
						errs[c] = wk.last
						return
					}
				}
			})
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				return nil, fmt.Errorf("%s", e)
			}
		}
		used, err := b.since(ctx, procAPI, before)
		if err != nil {
			return nil, err
		}
		n := float64(calls)
		out = append(out, routeCost{Op: op, Route: routes[op], Calls: calls,
			UpstashRequests: float64(used.rest) / n, RedisCommands: float64(used.commands) / n,
			APICPUUs: used.cpu[procAPI] * 1e6 / n, RESTCPUUs: used.cpu[procREST] * 1e6 / n, RedisCPUUs: used.cpu[procRedis] * 1e6 / n})
	}
	return out, nil
}

// usage is what has been counted: REST requests, Redis commands, and the
// CPU seconds of each process (the server under load, the REST server,
// redis-server and the load generator).
type usage struct {
	rest, commands int64
	cpu            map[string]float64
}

func (b *bench) snap(ctx context.Context, server string) (usage, error) {
	u := usage{cpu: map[string]float64{}}
	var err error
	if u.rest, err = b.restRequests(ctx); err != nil {
		return u, err
	}
	if u.commands, err = redistest.CommandCalls(ctx, b.rdb); err != nil {
		return u, err
	}
	if u.cpu[procRedis], err = redisCPU(ctx, b.rdb); err != nil {
		return u, err
	}
	if u.cpu[server], err = b.servers[server].cpu(); err != nil {
		return u, err
	}
	if u.cpu[procREST], err = b.rest.cpu(); err != nil {
		return u, err
	}
	u.cpu[procLoad], err = procCPU("self")
	return u, err
}

// since is what was used from u to now.
func (b *bench) since(ctx context.Context, server string, u usage) (usage, error) {
	now, err := b.snap(ctx, server)
	d := usage{rest: now.rest - u.rest, commands: now.commands - u.commands, cpu: map[string]float64{}}
	for p, v := range now.cpu {
		d.cpu[p] = v - u.cpu[p]
	}
	return d, err
}

// plus is u and v together.
func (u usage) plus(v usage) usage {
	out := usage{rest: u.rest + v.rest, commands: u.commands + v.commands, cpu: map[string]float64{}}
	for p, x := range u.cpu {
		out.cpu[p] = x + v.cpu[p]
	}
	return out
}

// restRequests asks the REST server how many requests it has served.
func (b *bench) restRequests(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.rest.URL+"/__requests", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.restToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("REST request count: %s", resp.Status)
	}
	return strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
}
