package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// printTable writes the figures as markdown, with the targets from
// DESIGN.md beside them.
func printTable(out io.Writer, r Results, s settings) {
	fmt.Fprintf(out, "\n## Load test: %s, Redis %s, %s a phase\n\n", r.Machine, r.Redis, s.Duration)
	fmt.Fprintln(out, "| figure | measured | target |")
	fmt.Fprintln(out, "|---|---|---|")
	row := func(name, v, target string) { fmt.Fprintf(out, "| %s | %s | %s |\n", name, v, target) }
	if t := r.Throughput; t != nil {
		row(fmt.Sprintf("API ops/s, %d clients", t.Clients), fmt.Sprintf("%.0f", t.OpsPerSec), "≥ 10,000")
		row(fmt.Sprintf("latency p50 / p95 / p99, %d clients", t.Clients), fmt.Sprintf("%.2f / %.2f / %.2f ms", t.P50, t.P95, t.P99), "")
		row("CPU per call: this process / redis-server", fmt.Sprintf("%.0f / %.0f µs", t.ProcessCPUPerCallUs, t.RedisCPUPerCallUs), "")
	}
	if l := r.Latency; l != nil {
		row(fmt.Sprintf("API ops/s, %d clients", l.Clients), fmt.Sprintf("%.0f", l.OpsPerSec), "")
		row(fmt.Sprintf("latency p50 / p95 / p99, %d clients", l.Clients), fmt.Sprintf("%.2f / %.2f / %.2f ms", l.P50, l.P95, l.P99), "p99 ≤ 5 ms")
	}
	if r.Throughput != nil || r.Latency != nil {
		row("errors", fmt.Sprint(r.Errors), "0")
	}
	if r.Throughput != nil {
		row("Upstash requests per API call", fmt.Sprintf("%.3f", r.UpstashRequestsPerCall), "exactly 1")
		row("Redis commands per API call", fmt.Sprintf("%.2f", r.RedisCommandsPerCall), "")
	}
	if r.Memory != nil {
		row(fmt.Sprintf("Redis bytes per workflow (%d workflows)", r.Memory.Workflows), fmt.Sprintf("%.0f", r.RedisBytesPerWorkflow), "≤ 1,000")
	}
	if r.BaselineOpsPerSec > 0 {
		row(fmt.Sprintf("go-redis SET/GET ops/s, %d clients", r.Clients), fmt.Sprintf("%.0f", r.BaselineOpsPerSec), "the ceiling")
		if r.RatioToBaseline > 0 {
			row("API ops/s ÷ go-redis ops/s", fmt.Sprintf("%.2f", r.RatioToBaseline), "")
		}
	}
	if b := r.Backup; b != nil {
		row(fmt.Sprintf("backup of %d keys", b.Keys), fmt.Sprintf("%.2f s, peak RSS %.1f MB, %.1f MB gzip", b.Seconds, b.PeakRSSMB, float64(b.FileBytes)/(1<<20)), "< 10 s, < 64 MB")
	}
	for _, fn := range functions {
		if n, ok := r.BootstrapBytes[fn]; ok {
			cs := "not measured"
			if ms, ok := r.ColdStartMs[fn]; ok {
				cs = fmt.Sprintf("INIT %.1f ms", ms)
			}
			row("function "+fn, fmt.Sprintf("bootstrap %.1f MB, %s", float64(n)/(1<<20), cs), "")
		}
	}
	if len(r.Routes) > 0 {
		fmt.Fprintln(out, "\n| route | Upstash requests | Redis commands | Redis CPU |")
		fmt.Fprintln(out, "|---|---|---|---|")
		for _, c := range r.Routes {
			fmt.Fprintf(out, "| `%s` | %.2f | %.2f | %.0f µs |\n", c.Route, c.UpstashRequests, c.RedisCommands, c.RedisCPUUs)
		}
	}
	for _, p := range []*phaseResult{r.Throughput, r.Latency} {
		if p == nil || p.ErrorCount == 0 {
			continue
		}
		ops := make([]string, 0, len(p.Errors))
		for op, n := range p.Errors {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
		}
		slices.Sort(ops)
		fmt.Fprintf(out, "\nerrors with %d clients: %s; last: %s\n", p.Clients, strings.Join(ops, ", "), p.LastError)
	}
}
