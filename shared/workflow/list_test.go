package workflow_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/workflow"
)

// listAll pages through a list and returns the ids in order.
func listAll(t *testing.T, e *servicetest.Env, query string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; page < 100; page++ {
		q := fmt.Sprintf("/api/workflow/state?limit=%d%s", limit, query)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		a := e.Do(req{Method: "GET", Path: q})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "no-store", a.Header.Get("Cache-Control"))
		for _, it := range a.Body["items"].([]any) {
			ids = append(ids, it.(map[string]any)["workflow_id"].(string))
		}
		next, _ := a.Body["next_cursor"].(string)
		if a.Body["next_cursor"] == nil {
			return ids
		}
		cursor = next
	}
	t.Fatal("more than 100 pages")
	return nil
}

func TestListNewestFirstWithCursor(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		var want []string
		for i := range 7 {
			wid := fmt.Sprintf("LST-%06d", i)
			create(t, e, wid, nil)
			want = append([]string{wid}, want...)
			if i%2 == 0 {
				e.Clock.Advance(time.Millisecond) // some share a millisecond
			}
		}
		for _, limit := range []int{1, 2, 3, 7, 50} {
			assert.Equal(t, want, listAll(t, e, "", limit), "limit %d", limit)
		}
		// An update moves a workflow to the front.
		e.Clock.Advance(time.Second)
		e.Do(req{Method: "PATCH", Path: "/api/workflow/state/LST-000000", Body: map[string]any{"status": "in_progress"}})
		got := listAll(t, e, "", 3)
		assert.Equal(t, "LST-000000", got[0])
		assert.Len(t, got, 7)

		assert.Equal(t, []string{"LST-000000"}, listAll(t, e, "&status=in_progress", 2))
		assert.Len(t, listAll(t, e, "&status=pending", 2), 6)
		assert.Empty(t, listAll(t, e, "&status=completed", 2))

		a := e.Do(req{Method: "GET", Path: "/api/workflow/state"})
		assert.Len(t, a.Body["items"], 7, "default limit 50")
		assert.Nil(t, a.Body["next_cursor"])
	})
}

func TestListSkipsExpired(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, "OLD-000001", map[string]any{"ttl_hours": 1})
		create(t, e, "NEW-000001", map[string]any{"ttl_hours": 48})
		// Expire one key directly, as its TTL would.
		_, err := e.Client.Do(context.Background(), "DEL", e.Keys.Workflow(mustID("OLD-000001")))
		require.NoError(t, err)
		assert.Equal(t, []string{"NEW-000001"}, listAll(t, e, "", 1))
		n, err := e.Client.Do(context.Background(), "ZCARD", e.Keys.WorkflowIndex())
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "reads leave the index to the sweeper")
	})
}

func TestSlidingTTL(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"ttl_hours": 2})
		key, hist := e.Keys.Workflow(mustID(id)), e.Keys.History(mustID(id))
		assert.InDelta(t, (2 * time.Hour).Milliseconds(), e.PTTL(key).Milliseconds(), 2000)
		assert.Equal(t, time.Duration(-2), e.PTTL(hist), "no history is stored until the first update")
		if !e.FastForward(90 * time.Minute) {
			// Real Redis: a write resets the TTL; PTTL shows it.
			e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"ttl_hours": 3}})
			assert.InDelta(t, (3 * time.Hour).Milliseconds(), e.PTTL(key).Milliseconds(), 2000)
			assert.InDelta(t, (3 * time.Hour).Milliseconds(), e.PTTL(hist).Milliseconds(), 2000)
			return
		}
		// miniredis: 90 minutes in, a write slides the expiry 2 h on again.
		e.Clock.Advance(90 * time.Minute)
		a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "x"}})
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "2026-11-26T13:30:00.000000000Z", a.Body["expires_at"])
		e.FastForward(90 * time.Minute)
		assert.Equal(t, http.StatusOK, e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id}).Status, "still there after 3 h in all")
		e.FastForward(31 * time.Minute)
		problem(t, e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id}), 404, "not-found")
		problem(t, e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"}), 404, "not-found")
	})
}

func TestConcurrentIfMatchWritesOneWins(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, nil)
		codes := make(chan int, 50)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id,
					Header: map[string]string{"If-Match": `"1"`}, Body: map[string]any{"current_stage": fmt.Sprint(i)}})
				codes <- a.Status
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		assert.Equal(t, map[int]int{200: 1, 412: 49}, count)
		a := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id})
		assert.Equal(t, float64(2), a.Body["version"])
	})
}

// TestWritesKeepTheInvariants sends random sequences of writes and checks,
// after each: the status only changes along the table, the version rises by
// exactly one per accepted write, last_updated strictly rises whatever the
// clock does, and created_at never changes.
func TestWritesKeepTheInvariants(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		n := 0
		rapid.Check(t, func(rt *rapid.T) {
			n++
			wid := fmt.Sprintf("PRP-%06d", n)
			first := create(t, e, wid, nil)
			created := first.Body["created_at"]
			version, status, last := 1.0, workflow.Pending, first.Body["last_updated"].(string)
			steps := rapid.IntRange(1, 12).Draw(rt, "steps")
			for range steps {
				e.Clock.Advance(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(time.Hour)).Draw(rt, "clock")))
				to := rapid.SampledFrom(workflow.Statuses).Draw(rt, "status")
				body := map[string]any{"status": to}
				if rapid.Bool().Draw(rt, "stage") {
					body["current_stage"] = rapid.StringN(0, 10, 40).Draw(rt, "stage_text")
				}
				method, path := "PATCH", "/api/workflow/state/"+wid
				if rapid.Bool().Draw(rt, "post") {
					method, path = "POST", "/api/workflow/state"
					body["workflow_id"] = wid
				}
				a := e.Do(req{Method: method, Path: path, Body: body})
				if !workflow.CanChange(status, to) {
					if a.Status != http.StatusConflict {
						rt.Fatalf("%s -> %s answered %d", status, to, a.Status)
					}
					continue
				}
				if a.Status != http.StatusOK {
					rt.Fatalf("%s -> %s answered %d: %s", status, to, a.Status, a.Raw)
				}
				version++
				if a.Body["version"] != version {
					rt.Fatalf("version %v, want %v", a.Body["version"], version)
				}
				lu := a.Body["last_updated"].(string)
				if lu <= last {
					rt.Fatalf("last_updated went from %s to %s", last, lu)
				}
				if a.Body["created_at"] != created {
					rt.Fatalf("created_at changed from %v to %v", created, a.Body["created_at"])
				}
				last, status = lu, to
			}
		})
	})
}
