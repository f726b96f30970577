package approval_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/servicetest"
)

func waitFor(e *servicetest.Env, aid string, wait string) servicetest.Answer {
	return e.Do(req{Method: "GET", Path: "/api/approval/" + aid + "?wait=" + wait})
}

func TestWaitEndsWithTheDecision(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		done := make(chan servicetest.Answer)
		go func() { done <- waitFor(e, aid.String(), "20") }()
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, http.StatusOK, decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"}).Status)
		select {
		case a := <-done:
			require.Equal(t, http.StatusOK, a.Status)
			assert.Equal(t, "approved", a.Body["status"])
			assert.Equal(t, "alice", a.Body["decision"].(map[string]any)["approver"])
			assert.Empty(t, a.Header.Get("Retry-After"), "a final answer")
		case <-time.After(15 * time.Second):
			t.Fatal("the wait did not end with the decision")
		}
	})
}

func TestFiftyWaitersAllWake(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		answers := make([]servicetest.Answer, 50)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = waitFor(e, aid.String(), "20") })
		}
		time.Sleep(500 * time.Millisecond)
		require.Equal(t, http.StatusOK, decide(e, aid, map[string]any{"decision": "rejected", "approver": "alice"}).Status)
		wg.Wait()
		for i, a := range answers {
			assert.Equal(t, http.StatusOK, a.Status, "waiter %d", i)
			assert.Equal(t, "rejected", a.Body["status"], "waiter %d", i)
		}
	})
}

func TestWaitRunsOut(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		a := waitFor(e, aid.String(), "1")
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "pending", a.Body["status"])
		assert.Equal(t, "1", a.Header.Get("Retry-After"))
	})
}

func TestWaitSeesTheTimeout(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, map[string]any{"on_timeout": "rejected", "expires_in_seconds": 60}))
		done := make(chan servicetest.Answer)
		go func() { done <- waitFor(e, aid.String(), "20") }()
		time.Sleep(200 * time.Millisecond)
		e.Clock.Advance(time.Minute)
		a := <-done
		assert.Equal(t, "rejected", a.Body["status"])
		assert.Equal(t, "timeout", a.Body["decision"].(map[string]any)["by"])
		assert.Empty(t, a.Header.Get("Retry-After"))
	})
}

func TestWaitRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		for _, w := range []string{"0", "26", "-1", "1.5", "abc", ""} {
			problem(t, waitFor(e, aid.String(), w), http.StatusBadRequest, "validation")
		}
		// An unknown id: 404 at once, not after the wait.
		start := time.Now()
		problem(t, waitFor(e, "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", "25"), http.StatusNotFound, "not-found")
		assert.Less(t, time.Since(start), approval.MaxWait/5)
	})
}

func TestNextPoll(t *testing.T) {
	// At most 4 reads a second of waiting, fewer as the wait grows, never
	// more than MaxPoll apart.
	var at, d time.Duration
	reads := []time.Duration{0}
	for at < approval.MaxWait {
		d = approval.NextPoll(d)
		at += d
		reads = append(reads, at)
	}
	for i := 1; i < len(reads); i++ {
		assert.LessOrEqual(t, reads[i]-reads[i-1], approval.MaxPoll)
		assert.GreaterOrEqual(t, reads[i]-reads[i-1], time.Second/4)
	}
	assert.LessOrEqual(t, len(reads), 20, "reads in a 25 s wait")
}
