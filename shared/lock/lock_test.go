package lock_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
)

type req = servicetest.Req

const path = "/api/lock/deploy:prod"

func each(t *testing.T, fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackend(t, fn)
}

var problem = servicetest.Problem

func TestLockLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "ci-bot", "ttl_seconds": 30}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		tok := a.Body["token"].(string)
		assert.Regexp(t, `^[0-9a-f]{32}$`, tok)
		assert.Equal(t, map[string]any{"resource_id": "deploy:prod", "owner": "ci-bot", "token": tok,
			"expires_at": "2026-11-26T10:00:30.000000000Z"}, a.Body)
		rid, _ := keys.ParseResourceID("deploy:prod")
		assert.InDelta(t, 30000, e.PTTL(e.Keys.Lock(rid)).Milliseconds(), 1000)

		// Held: 409 with when it frees.
		e.Clock.Advance(10 * time.Second)
		before := e.Snapshot()
		b := e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "other"}})
		problem(t, b, http.StatusConflict, "conflict")
		assert.NotEmpty(t, b.Body["expires_at"])
		assert.Equal(t, before, e.Snapshot())

		// Extend with the token; a wrong token gets 409.
		c := e.Do(req{Method: "PUT", Path: path, Header: map[string]string{"Lock-Token": tok}, Body: map[string]any{"ttl_seconds": 300}})
		require.Equal(t, http.StatusOK, c.Status, "%s", c.Raw)
		assert.Equal(t, "2026-11-26T10:05:10.000000000Z", c.Body["expires_at"])
		assert.InDelta(t, 300000, e.PTTL(e.Keys.Lock(rid)).Milliseconds(), 1000)
		problem(t, e.Do(req{Method: "PUT", Path: path, Header: map[string]string{"Lock-Token": "nope"}, Body: map[string]any{}}), 409, "conflict")
		problem(t, e.Do(req{Method: "DELETE", Path: path, Header: map[string]string{"Lock-Token": "nope"}}), 409, "conflict")

		d := e.Do(req{Method: "DELETE", Path: path, Header: map[string]string{"Lock-Token": tok}})
		assert.Equal(t, http.StatusNoContent, d.Status, "%s", d.Raw)
		problem(t, e.Do(req{Method: "DELETE", Path: path, Header: map[string]string{"Lock-Token": tok}}), 404, "not-found")
		problem(t, e.Do(req{Method: "PUT", Path: path, Header: map[string]string{"Lock-Token": tok}, Body: map[string]any{}}), 409, "conflict")

		// Free again: anyone may take it.
		f := e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "other"}})
		assert.Equal(t, http.StatusCreated, f.Status)
		assert.Equal(t, "2026-11-26T10:01:10.000000000Z", f.Body["expires_at"], "default ttl 60 s")
	})
}

func TestLockExpires(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "a", "ttl_seconds": 1}})
		require.Equal(t, http.StatusCreated, a.Status)
		if !e.FastForward(1100 * time.Millisecond) {
			time.Sleep(1100 * time.Millisecond)
		}
		b := e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "b", "ttl_seconds": 1}})
		assert.Equal(t, http.StatusCreated, b.Status, "an expired lock is free")
	})
}

func TestLockBadInput(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		for name, r := range map[string]req{
			"no owner":      {Method: "POST", Path: path, Body: map[string]any{"ttl_seconds": 5}},
			"empty owner":   {Method: "POST", Path: path, Body: map[string]any{"owner": ""}},
			"ttl 0":         {Method: "POST", Path: path, Body: map[string]any{"owner": "a", "ttl_seconds": 0}},
			"ttl 301":       {Method: "POST", Path: path, Body: map[string]any{"owner": "a", "ttl_seconds": 301}},
			"bad resource":  {Method: "POST", Path: "/api/lock/-bad", Body: map[string]any{"owner": "a"}},
			"unknown field": {Method: "POST", Path: path, Body: map[string]any{"owner": "a", "x": 1}},
			"no token":      {Method: "PUT", Path: path, Body: map[string]any{"ttl_seconds": 5}},
			"owner on put":  {Method: "PUT", Path: path, Header: map[string]string{"Lock-Token": "t"}, Body: map[string]any{"owner": "b"}},
			"delete no tok": {Method: "DELETE", Path: path},
			"delete bad id": {Method: "DELETE", Path: "/api/lock/a%20b", Header: map[string]string{"Lock-Token": "t"}},
		} {
			before := e.Snapshot()
			problem(t, e.Do(r), http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), name)
		}
	})
}

func TestConcurrentAcquireOneWins(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		codes := make(chan int, 50)
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- e.Do(req{Method: "POST", Path: path, Body: map[string]any{"owner": "racer"}}).Status
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		assert.Equal(t, map[int]int{201: 1, 409: 49}, count)
	})
}

func TestOwnerIsAnIdentity(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		for _, bad := range []string{"me ", " me", "m\u200be", "m\x00e", ""} {
			a := e.Do(servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: map[string]any{"owner": bad}})
			assert.Equal(t, http.StatusBadRequest, a.Status, "%q: %s", bad, a.Raw)
		}
		a := e.Do(servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: map[string]any{"owner": "Zoë Bot"}})
		assert.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	})
}
