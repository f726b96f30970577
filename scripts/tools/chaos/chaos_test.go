package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/redistest"
)

// TestChaosShort is make chaos at a small scale: every fault, one kill -9,
// and every check. make chaos runs the full one.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("kills Redis under load for about 20 s")
	}
	redistest.Start(t).Stop() // fails under CI when redis-server is missing
	s, err := readSettings(config.MapLookup(map[string]string{
		"CHAOS_PHASE": "1s", "CHAOS_KILLS": "1", "CHAOS_DOWN": "500ms", "CHAOS_WRITERS": "4",
		"CHAOS_APPROVERS": "2", "CHAOS_POSTERS": "2",
		// A wider margin than make chaos, for the race detector on a busy machine:
		// a hang still shows, as a call would wait until the client gives up.
		"CHAOS_DEADLINE": "6s",
	}))
	require.NoError(t, err)
	rep, err := run(context.Background(), s, io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	rep.print(&out)
	t.Log(out.String())
	assert.Empty(t, rep.failures())
	assert.Positive(t, rep.hits["cut-request"]+rep.hits["cut-response"]+rep.hits["5xx"], "the proxy faulted requests")
	assert.Positive(t, rep.hits["hang"], "the upstream hung")
}

func TestChaosSettings(t *testing.T) {
	_, err := readSettings(config.MapLookup(map[string]string{"CHAOS_WRITERS": "0"}))
	assert.ErrorContains(t, err, "CHAOS_WRITERS")
	s, err := readSettings(config.MapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, 3, s.Kills)
}

// The report fails a run for each broken rule.
func TestReportFailures(t *testing.T) {
	good := &report{settings: settings{Posters: 1, Deadline: 1}, ackedWrites: 1, results: 1, unavailable: 1,
		circuit: []string{"closed", "open", "half_open", "closed"}, recovered: true}
	assert.Empty(t, good.failures())
	for name, spoil := range map[string]func(r *report){
		"lost":         func(r *report) { r.lostWrites = 1 },
		"no 503":       func(r *report) { r.unavailable = 0 },
		"retry-after":  func(r *report) { r.noRetryAfter = 1 },
		"500":          func(r *report) { r.bad = []string{"GET /x: 500"} },
		"hung":         func(r *report) { r.hung = 1 },
		"never opened": func(r *report) { r.circuit = []string{"closed"} },
		"stays open":   func(r *report) { r.circuit = []string{"closed", "open"} },
		"no recovery":  func(r *report) { r.recovered = false },
		"twice":        func(r *report) { r.doubleDecided = 1 },
		"gap":          func(r *report) { r.versionGaps = 1 },
		"leak":         func(r *report) { r.goroutinesAfter = 1 },
	} {
		r := *good
		r.circuit = append([]string(nil), good.circuit...)
		spoil(&r)
		assert.NotEmpty(t, r.failures(), name)
	}
}
