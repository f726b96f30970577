package failures_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstashvector"
	"github.com/ai-rails/state-service/shared/wiring"
)

type req = servicetest.Req

var problem = servicetest.Problem

func c(name, outcome string, msg ...string) map[string]any {
	m := map[string]any{"name": name, "classname": "tests.login", "outcome": outcome, "duration_seconds": 0.25}
	if len(msg) > 0 {
		m["message"] = msg[0]
	}
	return m
}

const (
	refused  = "E       ConnectionRefusedError: [Errno 111] Connection refused to db:5432 after 3 tries"
	refused2 = "E       ConnectionRefusedError: [Errno 111] Connection refused to db:5432 after 7 tries"
	timeout  = "E       TimeoutError: read timed out after 30.0 s while reading /tmp/pytest-of-ci/pytest-4/test_x0/out.json"
)

func TestHistoryAndGroups(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		e.StoreRun("ABC-000001", "abc1234", c("test_ok", "passed"), c("test_db", "failed", refused), c("test_sso", "skipped"))
		e.StoreRun("ABC-000001", "abc1234", c("test_ok", "failed", refused2), c("test_db", "failed", refused2), c("test_slow", "failed", timeout))
		e.StoreRun("ABC-000002", "", c("test_ok", "passed"))

		h := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=tests.login.test_ok"})
		require.Equal(t, http.StatusOK, h.Status, "%s", h.Raw)
		assert.Equal(t, "unit", h.Body["test_suite"])
		assert.Equal(t, "tests.login.test_ok", h.Body["test"])
		items := h.Body["items"].([]any)
		require.Len(t, items, 3)
		assert.Equal(t, map[string]any{"workflow_id": "ABC-000002", "commit": nil, "attempt": nil, "outcome": "passed",
			"duration_seconds": 0.25, "at": "2026-11-26T10:02:00.000000000Z"}, items[0], "newest first")
		assert.Equal(t, "failed", items[1].(map[string]any)["outcome"])
		assert.Equal(t, "abc1234", items[1].(map[string]any)["commit"])
		assert.Nil(t, h.Body["next_cursor"])

		// Paged.
		p1 := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=tests.login.test_ok&limit=2"})
		require.Len(t, p1.Body["items"], 2)
		require.NotNil(t, p1.Body["next_cursor"])
		p2 := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=tests.login.test_ok&limit=2&cursor=" + url.QueryEscape(p1.Body["next_cursor"].(string))})
		require.Len(t, p2.Body["items"], 1)
		assert.Equal(t, items[2], p2.Body["items"].([]any)[0])
		assert.Nil(t, p2.Body["next_cursor"])

		// An unknown test has no runs.
		u := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=nope"})
		require.Equal(t, http.StatusOK, u.Status)
		assert.Equal(t, []any{}, u.Body["items"])

		// Groups: one failure in two runs and two tests is one group.
		g := e.Do(req{Method: "GET", Path: "/api/failures?workflow_id=ABC-000001"})
		require.Equal(t, http.StatusOK, g.Status, "%s", g.Raw)
		groups := g.Body["items"].([]any)
		require.Len(t, groups, 2)
		byFP := map[string]map[string]any{}
		for _, x := range groups {
			byFP[x.(map[string]any)["fingerprint"].(string)] = x.(map[string]any)
		}
		db := byFP[failures.Fingerprint("", refused)]
		require.NotNil(t, db, "%s", g.Raw)
		assert.Equal(t, float64(3), db["count"])
		assert.ElementsMatch(t, []any{"tests.login.test_ok", "tests.login.test_db"}, db["tests"])
		assert.Equal(t, []any{"ABC-000001"}, db["workflows"])
		assert.Equal(t, refused, db["sample_message"], "the first failure's message")
		assert.Equal(t, "2026-11-26T10:00:00.000000000Z", db["first_seen"])
		assert.Equal(t, "2026-11-26T10:01:00.000000000Z", db["last_seen"])
		assert.Equal(t, failures.Fingerprint("", timeout), groups[0].(map[string]any)["fingerprint"], "the latest seen first")
		assert.NotEqual(t, failures.Fingerprint("", refused), failures.Fingerprint("", timeout))

		s := e.Do(req{Method: "GET", Path: "/api/failures?test_suite=unit&limit=1"})
		require.Equal(t, http.StatusOK, s.Status, "%s", s.Raw)
		require.Len(t, s.Body["items"], 1)
		s2 := e.Do(req{Method: "GET", Path: "/api/failures?test_suite=unit&limit=1&cursor=" + url.QueryEscape(s.Body["next_cursor"].(string))})
		require.Len(t, s2.Body["items"], 1)
		assert.Nil(t, s2.Body["next_cursor"])
		assert.Equal(t, db["fingerprint"], s2.Body["items"].([]any)[0].(map[string]any)["fingerprint"])

		// The memory's keys live 30 days.
		wf, _ := keys.ParseWorkflowID("ABC-000001")
		for _, k := range []string{e.Keys.TestHistories("unit"), e.Keys.TestRuns("unit"), e.Keys.WorkflowFailureGroups(wf),
			e.Keys.SuiteFailureGroups("unit"), e.Keys.Failure(failures.Fingerprint("", refused))} {
			assert.InDelta(t, (30 * 24 * time.Hour).Seconds(), e.PTTL(k).Seconds(), 5, k)
		}
	})
}

func TestMemoryQueriesAreChecked(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		for _, path := range []string{
			"/api/tests/history?test=a", "/api/tests/history?test_suite=unit", "/api/tests/history?test_suite=unit&test=a%0Ab",
			"/api/tests/history?test_suite=unit&test=a&limit=0", "/api/tests/history?test_suite=unit&test=a&cursor=zz",
			"/api/tests/flaky", "/api/tests/flaky?test_suite=unit&workflow_id=abc", "/api/tests/flaky?test_suite=unit&cursor=zz",
			"/api/failures", "/api/failures?workflow_id=ABC-000001&test_suite=unit", "/api/failures?workflow_id=nope",
			"/api/failures?test_suite=" + strings.Repeat("s", 257), "/api/failures?test_suite=unit&cursor=" + url.QueryEscape("ZzE6MTp4"),
		} {
			problem(t, e.Do(req{Method: "GET", Path: path}), http.StatusBadRequest, "validation")
		}
		before := e.Snapshot()
		for _, body := range []any{
			map[string]any{}, map[string]any{"text": ""}, map[string]any{"text": strings.Repeat("x", 16<<10+1)},
			map[string]any{"text": "x", "k": 0}, map[string]any{"text": "x", "k": 51}, map[string]any{"text": "x", "exclude_workflow_id": "x"},
			map[string]any{"text": "x", "top": 3},
		} {
			problem(t, e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: body}), http.StatusBadRequest, "validation")
		}
		assert.Equal(t, before, e.Snapshot())
	})
}

func TestSimilarFailures(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		// ABC-000001 has a state; ABC-000002 never had one.
		st := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-000001",
			"feature_description": "login", "status": "pending", "current_stage": "tests"}})
		require.Equal(t, http.StatusCreated, st.Status, "%s", st.Raw)
		e.StoreRun("ABC-000001", "", c("test_db", "failed", refused))
		e.StoreRun("ABC-000002", "", c("test_db2", "failed", refused2), c("test_slow", "failed", timeout))

		a := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{
			"text": "ConnectionRefusedError: [Errno 111] Connection refused to db:6543 after 2 tries", "k": 2}})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		items := a.Body["items"].([]any)
		require.Len(t, items, 1, "the timeout is not like it")
		top := items[0].(map[string]any)
		assert.Equal(t, failures.Fingerprint("", refused), top["fingerprint"])
		assert.Equal(t, "ABC-000002", top["workflow_id"], "the latest workflow to see it")
		assert.Equal(t, failures.StatusUnknown, top["workflow_status"], "a workflow with no state")
		assert.Equal(t, "tests.login.test_db2", top["test"])
		assert.Equal(t, "unit", top["test_suite"])
		assert.Equal(t, refused, top["sample_message"])
		assert.Greater(t, top["score"].(float64), 0.9)

		// Leaving ABC-000002 out names the workflow that saw it before.
		x := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{
			"text": refused, "k": 1, "exclude_workflow_id": "ABC-000002"}})
		require.Equal(t, http.StatusOK, x.Status, "%s", x.Raw)
		require.Len(t, x.Body["items"], 1)
		assert.Equal(t, "ABC-000001", x.Body["items"].([]any)[0].(map[string]any)["workflow_id"])
		assert.Equal(t, "pending", x.Body["items"].([]any)[0].(map[string]any)["workflow_status"])

		// Text that says nothing finds nothing.
		n := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": "1234 5678 0x1f"}})
		require.Equal(t, http.StatusOK, n.Status, "%s", n.Raw)
		assert.Equal(t, []any{}, n.Body["items"])

		// A read: an Idempotency-Key changes nothing.
		before := e.Snapshot()
		r := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": refused},
			Header: map[string]string{"Idempotency-Key": "k1"}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		assert.Equal(t, before, e.Snapshot())
	})
}

// A vector index that is down loses nothing: ingest answers 201, the
// upserts wait in the outbox, and the sweeper delivers them once the index
// is back.
func TestVectorOutageLosesNothing(t *testing.T) {
	var down atomic.Bool
	var real http.Handler
	fault := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, `{"error":"service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		real.ServeHTTP(w, r)
	}))
	defer fault.Close()
	servicetest.ForEachBackendWith(t, func(c *config.Config, o *wiring.Options) {
		c.Memory.VectorURL = fault.URL
		o.Vector = func(v *upstashvector.Options) { v.MaxRetries = -1; v.BreakerFailures = 1000 }
	}, func(t *testing.T, e *servicetest.Env) {
		real = e.Vector
		down.Store(true)
		e.StoreRun("ABC-000001", "", c("test_db", "failed", refused), c("test_slow", "failed", timeout))
		fps, err := upstash.Strings(e.Client.Do(context.Background(), "ZRANGE", e.Keys.VectorOutbox(), 0, -1))
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{failures.Fingerprint("", refused), failures.Fingerprint("", timeout)}, fps)
		problem(t, e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": refused}}), http.StatusServiceUnavailable, "store-unavailable")

		// The sweeper tries while the index is down, and keeps them.
		e.Clock.Advance(2 * time.Minute)
		rep, err := e.Service.Sweeper.Steps(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Vectors.Failed)
		n, _ := upstash.Int64(e.Client.Do(context.Background(), "ZCARD", e.Keys.VectorOutbox()))
		assert.Equal(t, int64(2), n)

		// Back up: the next sweep after the retry wait delivers them.
		down.Store(false)
		e.Clock.Advance(6 * time.Minute)
		rep, err = e.Service.Sweeper.Steps(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Vectors.Upserted)
		n, _ = upstash.Int64(e.Client.Do(context.Background(), "ZCARD", e.Keys.VectorOutbox()))
		assert.Zero(t, n)
		a := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": refused, "k": 1}})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, failures.Fingerprint("", refused), a.Body["items"].([]any)[0].(map[string]any)["fingerprint"])
	})
}

// Without a vector index, ingest still records the groups, queues nothing,
// and similar failures say why they cannot answer.
func TestNoVectorIndex(t *testing.T) {
	servicetest.ForEachBackendWith(t, func(c *config.Config, _ *wiring.Options) { c.Memory = config.Memory{} }, func(t *testing.T, e *servicetest.Env) {
		e.StoreRun("ABC-000001", "", c("test_db", "failed", refused))
		n, _ := upstash.Int64(e.Client.Do(context.Background(), "EXISTS", e.Keys.VectorOutbox()))
		assert.Zero(t, n)
		a := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": refused}})
		problem(t, a, http.StatusServiceUnavailable, "store-unavailable")
		assert.Contains(t, a.Body["detail"], "UPSTASH_VECTOR_REST_URL")
		g := e.Do(req{Method: "GET", Path: "/api/failures?workflow_id=ABC-000001"})
		require.Len(t, g.Body["items"], 1, fmt.Sprint(g.Body))
	})
}

func TestUnknownFailureFindsNothing(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		e.StoreRun("ABC-000001", "", c("test_db", "failed", refused))
		a := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": "NullPointerException in PaymentGateway.charge()"}})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, []any{}, a.Body["items"])
	})
}

// A failure whose record has expired is no longer named, though its vector
// stays in the index; the next failures still fill k.
func TestExpiredFailuresAreSkipped(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		e.StoreRun("ABC-000001", "", c("test_db", "failed", refused))
		e.StoreRun("ABC-000002", "", c("test_db", "failed", "E       ConnectionRefusedError: [Errno 111] Connection refused to cache:6379"))
		_, err := e.Client.Do(context.Background(), "DEL", e.Keys.Failure(failures.Fingerprint("", refused)))
		require.NoError(t, err)
		a := e.Do(req{Method: "POST", Path: "/api/failures/similar", Body: map[string]any{"text": refused, "k": 1}})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		require.Len(t, a.Body["items"], 1)
		assert.Equal(t, "ABC-000002", a.Body["items"].([]any)[0].(map[string]any)["workflow_id"])
	})
}
