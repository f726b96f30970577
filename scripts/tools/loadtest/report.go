package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// printTable writes the figures as markdown, with the targets beside them.
func printTable(out io.Writer, r Results, s settings) {
	fmt.Fprintf(out, "\n## Load test: %s, Redis %s, %s a phase\n\n", r.Machine, r.Redis, s.Duration)
	fmt.Fprintln(out, "| figure | service | bare path | ratio | target |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	row := func(name, v, bare, ratio, target string) {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", name, v, bare, ratio, target)
	}
	ratio := func(f float64) string {
		if f == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f", f)
	}
	var rt ratios
	if r.Ratios != nil {
		rt = *r.Ratios
	}
	var bt, bl *phaseResult
	if r.Bare != nil {
		bt, bl = r.Bare.Throughput, r.Bare.Latency
	}
	if t := r.Throughput; t != nil && bt != nil {
		row(fmt.Sprintf("ops/s, %d clients", t.Clients), fmt.Sprintf("%.0f", t.OpsPerSec), fmt.Sprintf("%.0f", bt.OpsPerSec), ratio(rt.OpsPerSec), "≥ 0.8")
		row("API-process CPU per call (the n8n mix)", fmt.Sprintf("%.0f µs", t.CPUPerCallUs[procAPI]), fmt.Sprintf("%.0f µs", bt.CPUPerCallUs[procBare]), ratio(rt.APICPUPerCall), "≤ 1.25")
		for _, p := range []struct{ name, key string }{{"REST server", procREST}, {"redis-server", procRedis}, {"load generator", procLoad}} {
			row(p.name+" CPU per call", fmt.Sprintf("%.0f µs", t.CPUPerCallUs[p.key]), fmt.Sprintf("%.0f µs", bt.CPUPerCallUs[p.key]), "", "")
		}
		row(fmt.Sprintf("latency p50 / p99, %d clients", t.Clients), fmt.Sprintf("%.2f / %.2f ms", t.P50, t.P99), fmt.Sprintf("%.2f / %.2f ms", bt.P50, bt.P99), "", "")
	}
	if l := r.Latency; l != nil && bl != nil {
		row(fmt.Sprintf("ops/s, %d clients", l.Clients), fmt.Sprintf("%.0f", l.OpsPerSec), fmt.Sprintf("%.0f", bl.OpsPerSec), "", "")
		row(fmt.Sprintf("latency p50 / p95 / p99, %d clients", l.Clients), fmt.Sprintf("%.2f / %.2f / %.2f ms", l.P50, l.P95, l.P99),
			fmt.Sprintf("%.2f / %.2f / %.2f ms", bl.P50, bl.P95, bl.P99), ratio(rt.P99)+" (p99)", "p99 ≤ 2")
	}
	if r.Throughput != nil || r.Latency != nil {
		row("errors", fmt.Sprint(r.Errors), "", "", "0")
	}
	if t := r.Throughput; t != nil {
		row("Upstash requests per API call", fmt.Sprintf("%.3f", r.UpstashRequestsPerCall), "", "", "exactly 1")
		row("Redis commands per API call", fmt.Sprintf("%.2f", r.RedisCommandsPerCall), "", "", "")
	}
	if r.Memory != nil {
		row(fmt.Sprintf("Redis bytes per workflow (%d workflows)", r.Memory.Workflows), fmt.Sprintf("%.0f", r.RedisBytesPerWorkflow), "", "", "≤ 1,000")
		row("Redis bytes per workflow after its first update (its history stored)", fmt.Sprintf("%.0f", r.RedisBytesPerUpdatedWorkflow), "", "", "")
		row("Idempotency-Key record, bytes per write (24 h)", fmt.Sprintf("%.0f", r.IdempotencyBytesPerWrite), "", "", "")
	}
	if len(r.RedisBenchmark) > 0 {
		row(fmt.Sprintf("redis-benchmark SET / GET ops/s, %d clients", r.Clients), fmt.Sprintf("%.0f / %.0f", r.RedisBenchmark["SET"], r.RedisBenchmark["GET"]), "", "", "Redis's ceiling")
	}
	if r.BaselineOpsPerSec > 0 {
		row(fmt.Sprintf("go-redis SET/GET ops/s, %d clients", r.Clients), fmt.Sprintf("%.0f", r.BaselineOpsPerSec), "", ratio(r.RatioToBaseline)+" (API ÷ it)", "")
	}
	if b := r.Backup; b != nil {
		row(fmt.Sprintf("backup of %d keys", b.Keys), fmt.Sprintf("%.2f s, peak RSS %.1f MB, %.1f MB gzip", b.Seconds, b.PeakRSSMB, float64(b.FileBytes)/(1<<20)), "", "", "< 10 s, < 64 MB")
	}
	for _, fn := range functions {
		if n, ok := r.BootstrapBytes[fn]; ok {
			cs := "not measured"
			if ms, ok := r.ColdStartMs[fn]; ok {
				cs = fmt.Sprintf("INIT %.1f ms", ms)
			}
			if t, ok := r.InitTrace[fn]; ok {
				cs += fmt.Sprintf(", package init %.1f ms", t.TotalMs)
			}
			row("function "+fn, fmt.Sprintf("bootstrap %.1f MB, %s", float64(n)/1e6, cs), "", "", "INIT ≤ 12 ms")
		}
	}
	if len(r.Routes) > 0 {
		fmt.Fprintln(out, "\n| route | Upstash requests | Redis commands | API CPU | REST CPU | Redis CPU |")
		fmt.Fprintln(out, "|---|---|---|---|---|---|")
		for _, c := range r.Routes {
			fmt.Fprintf(out, "| `%s` | %.2f | %.2f | %.0f µs | %.0f µs | %.0f µs |\n", c.Route, c.UpstashRequests, c.RedisCommands, c.APICPUUs, c.RESTCPUUs, c.RedisCPUUs)
		}
	}
	for _, p := range []*phaseResult{r.Throughput, r.Latency, bt, bl} {
		if p == nil || p.ErrorCount == 0 {
			continue
		}
		ops := make([]string, 0, len(p.Errors))
		for op, n := range p.Errors {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
		}
		slices.Sort(ops)
		fmt.Fprintf(out, "\nerrors of the %s with %d clients: %s; last: %s\n", p.Server, p.Clients, strings.Join(ops, ", "), p.LastError)
	}
}
