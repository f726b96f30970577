package handlers_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// writes are every write route, with what each needs to exist first, a
// request, and another request under the same key.
var writes = []struct {
	name  string
	setup func(t *testing.T, e *servicetest.Env) map[string]string
	req   func(v map[string]string) servicetest.Req
	other func(v map[string]string) servicetest.Req
}{
	{"create workflow", nil,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","feature_description":"x"}`}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","feature_description":"y"}`}
		}},
	{"patch workflow", withWorkflow,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "PATCH", Path: "/api/workflow/state/ABC-123456", Body: `{"status":"in_progress"}`}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "PATCH", Path: "/api/workflow/state/ABC-123456", Body: `{"status":"failed"}`}
		}},
	{"delete workflow", withWorkflow,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "DELETE", Path: "/api/workflow/state/ABC-123456"}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "DELETE", Path: "/api/workflow/state/ABC-654321"}
		}},
	{"take lock", nil,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: `{"owner":"me","ttl_seconds":60}`}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: `{"owner":"me","ttl_seconds":30}`}
		}},
	{"extend lock", withLock,
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "PUT", Path: "/api/lock/build", Body: `{"ttl_seconds":120}`, Header: map[string]string{"Lock-Token": v["token"]}}
		},
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "PUT", Path: "/api/lock/build", Body: `{"ttl_seconds":90}`, Header: map[string]string{"Lock-Token": v["token"]}}
		}},
	{"release lock", withLock,
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "DELETE", Path: "/api/lock/build", Header: map[string]string{"Lock-Token": v["token"]}}
		},
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "DELETE", Path: "/api/lock/build", Header: map[string]string{"Lock-Token": "other"}}
		}},
	{"create approval", withWorkflow,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/approval", Body: `{"workflow_id":"ABC-123456","request_type":"deploy","content":"c","requester":"bot"}`}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/approval", Body: `{"workflow_id":"ABC-123456","request_type":"deploy","content":"d","requester":"bot"}`}
		}},
	{"decide approval", withApproval,
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/approval/" + v["approval"] + "/decision", Body: `{"decision":"approved","approver":"alice"}`}
		},
		func(v map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/approval/" + v["approval"] + "/decision", Body: `{"decision":"rejected","approver":"alice"}`}
		}},
	{"store result", nil,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/results", Body: `{"workflow_id":"ABC-123456","test_suite":"unit","passed":1,"failed":0,"skipped":0,"duration_seconds":1}`}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/results", Body: `{"workflow_id":"ABC-123456","test_suite":"unit","passed":2,"failed":0,"skipped":0,"duration_seconds":1}`}
		}},
	{"store JUnit", nil,
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/results?workflow_id=ABC-123456&test_suite=unit", Body: `<testsuite><testcase name="a"/></testsuite>`,
				Header: map[string]string{"Content-Type": "application/xml"}}
		},
		func(map[string]string) servicetest.Req {
			return servicetest.Req{Method: "POST", Path: "/api/results?workflow_id=ABC-123456&test_suite=other", Body: `<testsuite><testcase name="a"/></testsuite>`,
				Header: map[string]string{"Content-Type": "application/xml"}}
		}},
}

func withWorkflow(t *testing.T, e *servicetest.Env) map[string]string {
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","feature_description":"x"}`})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return map[string]string{}
}

func withLock(t *testing.T, e *servicetest.Env) map[string]string {
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: `{"owner":"me"}`})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return map[string]string{"token": a.Body["token"].(string)}
}

func withApproval(t *testing.T, e *servicetest.Env) map[string]string {
	withWorkflow(t, e)
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: `{"workflow_id":"ABC-123456","request_type":"deploy","content":"c","requester":"bot"}`})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return map[string]string{"approval": a.Body["approval_id"].(string)}
}

func keyed(r servicetest.Req, key string) servicetest.Req {
	h := map[string]string{idempotency.Header: key}
	for k, v := range r.Header {
		h[k] = v
	}
	r.Header = h
	return r
}

// Every write route takes an Idempotency-Key: a retry gets the first
// outcome, marked replayed, and writes nothing more, even when the first
// answer never reached the client; another request under the key gets 422
// and writes nothing; the key costs no extra round trip.
func TestEveryWriteIsIdempotent(t *testing.T) {
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
				v := map[string]string{}
				if w.setup != nil {
					v = w.setup(t, e)
				}
				before := e.Client.Stats().RoundTrips
				first := e.Do(keyed(w.req(v), "run-1-"+w.name))
				require.Less(t, first.Status, 300, "%s", first.Raw)
				assert.Equal(t, before+1, e.Client.Stats().RoundTrips, "one round trip, key included")
				assert.Empty(t, first.Header.Get(idempotency.ReplayedHeader))

				snap := e.Snapshot()
				e.Clock.Advance(1000000000) // a second later
				again := e.Do(keyed(w.req(v), "run-1-"+w.name))
				assert.Equal(t, first.Status, again.Status, "%s", again.Raw)
				assert.Equal(t, string(first.Raw), string(again.Raw), "the first answer, again")
				assert.Equal(t, "true", again.Header.Get(idempotency.ReplayedHeader))
				assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
				assert.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
				assert.Equal(t, snap, e.Snapshot(), "the retry wrote nothing")

				other := e.Do(keyed(w.other(v), "run-1-"+w.name))
				assert.Equal(t, http.StatusUnprocessableEntity, other.Status, "%s", other.Raw)
				assert.Equal(t, "urn:ai-rails:problem:unprocessable", other.Body["type"])
				assert.Equal(t, snap, e.Snapshot(), "a mismatch writes nothing")
			})
		})
	}
}

func TestIdempotencyKeyRules(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	for _, bad := range []string{"", string(make([]byte, 129)), "naïve", "tab\there"} {
		a := e.Do(servicetest.Req{Method: "POST", Path: "/api/lock/build", Body: `{"owner":"me"}`, Header: map[string]string{idempotency.Header: bad}})
		if bad == "" {
			continue // an empty header is no header
		}
		assert.Equal(t, http.StatusBadRequest, a.Status, "%q: %s", bad, a.Raw)
	}
	// The same key on another route is another request.
	a := e.Do(keyed(servicetest.Req{Method: "POST", Path: "/api/lock/one", Body: `{"owner":"me"}`}, "shared"))
	require.Equal(t, http.StatusCreated, a.Status)
	a = e.Do(keyed(servicetest.Req{Method: "POST", Path: "/api/lock/two", Body: `{"owner":"me"}`}, "shared"))
	assert.Equal(t, http.StatusUnprocessableEntity, a.Status)
	// Reads ignore it.
	a = e.Do(keyed(servicetest.Req{Method: "GET", Path: "/api/health"}, "shared"))
	assert.Equal(t, http.StatusOK, a.Status)
}

// brokenBody fails as a client that drops the connection mid-body does.
type brokenBody struct{}

func (brokenBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A keyed write whose body cannot be read is a bad request, and nothing is
// recorded under its key.
func TestAKeyedWriteWithABrokenBody(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	before := e.Snapshot()
	r := httptest.NewRequest("POST", "/api/workflow/state", brokenBody{})
	r.Header.Set("x-api-key", servicetest.APIKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(idempotency.Header, "broken-1")
	w := httptest.NewRecorder()
	e.Handler.ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "could not be read")
	assert.Equal(t, before, e.Snapshot())
}

// A write to no route is not-found, whatever its Idempotency-Key says.
func TestAKeyOnNoRouteIsNotFound(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	for _, r := range []servicetest.Req{
		{Method: "POST", Path: "/api/nope", Body: map[string]any{}, Header: map[string]string{idempotency.Header: "bad key with spaces"}},
		{Method: "PUT", Path: "/api/workflow/state", Body: map[string]any{}, Header: map[string]string{idempotency.Header: "bad key with spaces"}},
	} {
		a := e.Do(r)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, a.Status, "%s %s: %s", r.Method, r.Path, a.Raw)
	}
}
