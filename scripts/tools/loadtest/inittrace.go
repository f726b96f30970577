package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// initTrace is what a bootstrap's package initialisation costs, from
// GODEBUG=inittrace=1: the sum of the packages' init clocks, and the
// costliest.
type initTrace struct {
	TotalMs float64       `json:"total_ms"`
	Top     []packageInit `json:"top"`
}

type packageInit struct {
	Package string  `json:"package"`
	Ms      float64 `json:"ms"`
}

// traceInit runs bootstrap n times with GODEBUG=inittrace=1, outside the
// emulator (its runtime API unreachable, so it stops after its init), and
// returns the run with the median total.
func traceInit(ctx context.Context, bootstrap string, env []string, n int) (initTrace, error) {
	var runs []initTrace
	for range n {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cmd := exec.CommandContext(cctx, bootstrap)
		cmd.Env = append(append(os.Environ(), env...), "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // it fails once it reaches the runtime API: the trace is before that
		cancel()
		t, err := parseInitTrace(stderr.Bytes(), 5)
		if err != nil {
			return initTrace{}, err
		}
		runs = append(runs, t)
	}
	slices.SortFunc(runs, func(a, b initTrace) int { return cmp.Compare(a.TotalMs, b.TotalMs) })
	return runs[len(runs)/2], nil
}

// parseInitTrace reads inittrace lines ("init net/http @3.9 ms, 0.059 ms
// clock, 4712 bytes, 49 allocs") and keeps the top costliest packages.
func parseInitTrace(raw []byte, top int) (initTrace, error) {
	var t initTrace
	var all []packageInit
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return t, fmt.Errorf("inittrace line %q: %w", line, err)
		}
		t.TotalMs += ms
		all = append(all, packageInit{Package: f[1], Ms: ms})
	}
	if len(all) == 0 {
		return t, fmt.Errorf("no inittrace lines in %q", raw)
	}
	slices.SortStableFunc(all, func(a, b packageInit) int { return cmp.Compare(b.Ms, a.Ms) }) // costliest first
	t.Top = all[:min(top, len(all))]
	return t, nil
}
