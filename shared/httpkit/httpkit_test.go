package httpkit_test

import (
	"bytes"
	"encoding/json"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/upstash"
)

const key = "k3y-for-tests"

type thing struct {
	Name string         `json:"name"`
	N    int            `json:"n"`
	Meta map[string]any `json:"meta"`
}

// newAPI returns the middleware stack over a router with a few routes, and
// the buffer its logs go to.
func newAPI(t *testing.T) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	rt := httpkit.NewRouter()
	rt.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		var th thing
		if err := httpkit.DecodeJSON(w, r, &th); err != nil {
			httpkit.WriteError(w, r, err)
			return
		}
		httpkit.WriteJSON(w, r, http.StatusCreated, th)
	})
	rt.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	rt.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	rt.HandleFunc("GET /plain", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
		_ = http.NewResponseController(w).Flush()
	})
	rt.HandleFunc("GET /nothing", func(w http.ResponseWriter, r *http.Request) {})
	rt.HandleFunc("GET /approve/{token}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	rt.HandleFunc("GET /down", func(w http.ResponseWriter, r *http.Request) {
		httpkit.WriteError(w, r, fmt.Errorf("read: %w", upstash.ErrUnavailable))
	})
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	kr, err := access.ParseKeys(key, "")
	require.NoError(t, err)
	return httpkit.New(httpkit.Config{Auth: access.Authenticate(kr, nil), Logger: logger}, rt), &logs
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("x-api-key", key)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{status: w.Code, header: w.Header()}
	if w.Body.Len() > 0 {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &a.body), "body %q", w.Body.String())
	}
	return a
}

func assertProblem(t *testing.T, a answer, status int, slug string) {
	t.Helper()
	assert.Equal(t, status, a.status)
	assert.Equal(t, httpkit.ProblemContentType, a.header.Get("Content-Type"))
	assert.Equal(t, "urn:ai-rails:problem:"+slug, a.body["type"])
	assert.Equal(t, float64(status), a.body["status"])
	assert.NotEmpty(t, a.body["title"])
	assert.NotEmpty(t, a.header.Get("X-Request-Id"))
}

func TestBodies(t *testing.T) {
	h, _ := newAPI(t)
	big := `{"name":"` + strings.Repeat("x", httpkit.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		slug   string
		field  string
	}{
		{"ok", `{"name":"a","n":2,"meta":{"x":null}}`, "application/json", 201, "", ""},
		{"charset ok", `{"name":"a"}`, "application/json; charset=UTF-8", 201, "", ""},
		{"merge patch type", `{"name":"a"}`, "application/merge-patch+json", 201, "", ""},
		{"wrong type", `{"name":"a"}`, "text/plain", 415, "unsupported-media-type", ""},
		{"no type", `{"name":"a"}`, "", 415, "unsupported-media-type", ""},
		{"bad charset", `{"name":"a"}`, "application/json; charset=latin1", 415, "unsupported-media-type", ""},
		{"too large", big, "application/json", 413, "too-large", ""},
		{"empty", ``, "application/json", 400, "validation", ""},
		{"syntax", `{"name":`, "application/json", 400, "validation", ""},
		{"bad syntax", `{"name" "a"}`, "application/json", 400, "validation", ""},
		{"unknown field", `{"name":"a","nope":1}`, "application/json", 400, "validation", "nope"},
		{"field type", `{"n":"two"}`, "application/json", 400, "validation", "n"},
		{"not an object", `[1,2]`, "application/json", 400, "validation", ""},
		{"trailing data", `{"name":"a"} {}`, "application/json", 400, "validation", ""},
		{"bad utf-8", "{\"name\":\"\xff\"}", "application/json", 400, "validation", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, h, "POST", "/things", tc.body, map[string]string{"Content-Type": tc.ctype})
			if tc.status == 201 {
				assert.Equal(t, 201, a.status, "%v", a.body)
				assert.Equal(t, "a", a.body["name"])
				return
			}
			assertProblem(t, a, tc.status, tc.slug)
			if tc.field != "" {
				errs := a.body["errors"].([]any)
				assert.Equal(t, tc.field, errs[0].(map[string]any)["field"])
			}
		})
	}
}

func TestRoutingProblems(t *testing.T) {
	h, _ := newAPI(t)
	a := do(t, h, "GET", "/nowhere", "", nil)
	assertProblem(t, a, 404, "not-found")
	a = do(t, h, "DELETE", "/things/1", "", nil)
	assertProblem(t, a, 405, "method-not-allowed")
	assert.Contains(t, a.header.Get("Allow"), "GET")
	a = do(t, h, "GET", "/things/abc", "", nil)
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "abc", a.body["id"])
}

func TestAPIKey(t *testing.T) {
	h, logs := newAPI(t)
	for _, k := range []string{"", "wrong", key + "x", strings.ToUpper(key)} {
		a := do(t, h, "GET", "/things/1", "", map[string]string{"x-api-key": k})
		assertProblem(t, a, 403, "forbidden")
	}
	assert.NotContains(t, logs.String(), key, "the key is never logged")
	assert.Contains(t, logs.String(), `"status":403`)

	open := access.Authenticate(nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	w := httptest.NewRecorder()
	open.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 204, w.Code, "no resolver turns the check off")
}

func TestRequestIDAndNoStore(t *testing.T) {
	h, logs := newAPI(t)
	a := do(t, h, "GET", "/things/1", "", map[string]string{"X-Request-Id": "req-123"})
	assert.Equal(t, "req-123", a.header.Get("X-Request-Id"))
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
	assert.Contains(t, logs.String(), `"request_id":"req-123"`)
	assert.Contains(t, logs.String(), `"route":"GET /things/{id}"`)

	a = do(t, h, "GET", "/things/1", "", map[string]string{"X-Request-Id": "bad id\x01"})
	assert.Regexp(t, `^[0-9a-f-]{36}$`, a.header.Get("X-Request-Id"))
	a = do(t, h, "GET", "/things/1", "", nil)
	assert.Regexp(t, `^[0-9a-f-]{36}$`, a.header.Get("X-Request-Id"))

	a = do(t, h, "POST", "/things", `{"name":"a"}`, nil)
	assert.Empty(t, a.header.Get("Cache-Control"), "writes are not marked")
}

func TestPanicsAndOutages(t *testing.T) {
	h, logs := newAPI(t)
	a := do(t, h, "GET", "/panic", "", nil)
	assertProblem(t, a, 500, "internal")
	assert.NotContains(t, a.body["detail"], "kaboom", "internal details stay in the logs")
	assert.Contains(t, logs.String(), "kaboom")

	a = do(t, h, "GET", "/down", "", nil)
	assertProblem(t, a, 503, "store-unavailable")
	assert.Equal(t, "1", a.header.Get("Retry-After"))
}

func TestProblemFor(t *testing.T) {
	err := apperr.New(apperr.Conflict, "the lock is held").With("expires_at", "2026-11-26T10:00:00Z").With("status", 1)
	p, retry := httpkit.ProblemFor(fmt.Errorf("lock: %w", err))
	assert.Zero(t, retry)
	body, jerr := json.Marshal(p)
	require.NoError(t, jerr)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	assert.Equal(t, map[string]any{
		"type": "urn:ai-rails:problem:conflict", "title": "Conflict", "status": float64(409),
		"detail": "the lock is held", "expires_at": "2026-11-26T10:00:00Z",
	}, m, "extra members join the body, and cannot replace the standard ones")

	for kind, status := range map[apperr.Kind]int{
		apperr.Validation: 400, apperr.Forbidden: 403, apperr.NotFound: 404, apperr.MethodNotAllowed: 405,
		apperr.Conflict: 409, apperr.InvalidTransition: 409, apperr.Gone: 410, apperr.PreconditionFailed: 412,
		apperr.TooLarge: 413, apperr.UnsupportedMediaType: 415, apperr.Unprocessable: 422,
		apperr.StoreUnavailable: 503, apperr.Internal: 500, apperr.Kind(99): 500,
	} {
		p, _ := httpkit.ProblemFor(&apperr.Error{Kind: kind})
		assert.Equal(t, status, p.Status, "kind %d", kind)
	}
	p, _ = httpkit.ProblemFor(errors.New("secret internals"))
	assert.Equal(t, "an internal error occurred", p.Detail)
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) httpkit.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := httpkit.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }), mw("a"), mw("b"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, []string{"a", "b", "h"}, order)
}

func TestWriteJSONFailure(t *testing.T) {
	w := httptest.NewRecorder()
	var logs bytes.Buffer
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(observe.WithLogger(r.Context(), slog.New(slog.NewJSONHandler(&logs, nil)).With("request_id", "req-1")))
	httpkit.WriteJSON(w, r, 200, map[string]any{"f": func() {}})
	assert.Equal(t, 500, w.Code)
	assert.Contains(t, logs.String(), `"level":"ERROR"`, "a 500 is logged at ERROR")
	assert.Contains(t, logs.String(), `"request_id":"req-1"`)
	assert.Equal(t, httpkit.ProblemContentType, w.Header().Get("Content-Type"))
	b, _ := io.ReadAll(w.Body)
	assert.Contains(t, string(b), "internal")
}

// Field names match exactly, and a name given twice, at any depth, is
// refused: what a gateway reading the first key sees is what is stored.
func TestUnmarshalIsExactAboutNames(t *testing.T) {
	type inner struct {
		ID  string             `json:"workflow_id"`
		Raw stdjson.RawMessage `json:"metadata"`
	}
	for body, field := range map[string]string{
		`{"WORKFLOW_ID":"ABC-123456"}`:                            "WORKFLOW_ID",
		`{"Workflow_Id":"ABC-123456"}`:                            "Workflow_Id",
		`{"workflow_id":"ABC-123456","workflow_id":"XYZ-000001"}`: "workflow_id",
		`{"workflow_id":"A","metadata":{"a":1,"a":2}}`:            "metadata.a",
		`{"workflow_id":"A","metadata":{"x":{"b":1,"b":2}}}`:      "metadata.x.b",
		`{"workflow_id":1}`:                                       "workflow_id",
	} {
		var v inner
		err := httpkit.Unmarshal([]byte(body), &v)
		require.Error(t, err, body)
		p, _ := httpkit.ProblemFor(err)
		assert.Equal(t, http.StatusBadRequest, p.Status, body)
		require.Len(t, p.Errors, 1, body)
		assert.Equal(t, field, p.Errors[0].Field, body)
	}
	var v inner
	require.NoError(t, httpkit.Unmarshal([]byte(`{"workflow_id":"ABC-123456","metadata":{"a":{"a":1}}}`), &v))
	assert.Equal(t, "ABC-123456", v.ID)
	assert.JSONEq(t, `{"a":{"a":1}}`, string(v.Raw))
	for _, body := range []string{`{"workflow_id":"A"} {}`, `{"workflow_id":"A"`, `[1]`} {
		assert.Error(t, httpkit.Unmarshal([]byte(body), &v), body)
	}
}

// failingBody fails mid-read, as a client that drops the connection does.
type failingBody struct{ sent bool }

func (b *failingBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, errors.New("connection reset")
	}
	b.sent = true
	return copy(p, `{"name":`), nil
}

// A body of unknown length is cut at the limit, and one that fails while
// read is a bad request; neither reaches the handler.
func TestBodiesOfUnknownLength(t *testing.T) {
	h, _ := newAPI(t)
	for _, tc := range []struct {
		body   io.Reader
		status int
		slug   string
	}{
		{io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", httpkit.MaxBodyBytes)), strings.NewReader(`"}`)), 413, "too-large"},
		{&failingBody{}, 400, "validation"},
	} {
		r := httptest.NewRequest("POST", "/things", tc.body)
		r.ContentLength = -1
		r.Header.Set("x-api-key", key)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		assertProblem(t, answer{status: w.Code, header: w.Header(), body: body}, tc.status, tc.slug)
	}
}

// A path that is not clean is redirected to its clean form, as ServeMux
// does, rather than answered not-found.
func TestUncleanPathsRedirect(t *testing.T) {
	h, _ := newAPI(t)
	r := httptest.NewRequest("GET", "/things//abc", nil)
	r.Header.Set("x-api-key", key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.True(t, w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect, "status %d", w.Code)
	assert.Equal(t, "/things/abc", w.Header().Get("Location"))
}

func TestListParams(t *testing.T) {
	for q, want := range map[string]string{"": "", "limit=0": "limit", "limit=201": "limit", "limit=x": "limit", "cursor=": "cursor"} {
		var errs apperr.Collector
		values, _ := url.ParseQuery(q)
		limit, _ := httpkit.ListParams(values, &errs)
		err := errs.Err()
		if want == "" {
			assert.NoError(t, err, q)
			assert.Equal(t, httpkit.DefaultLimit, limit)
			continue
		}
		assert.ErrorContains(t, err, want, q)
	}
}

// A handler that writes without a status, or writes nothing, answered 200,
// and the access log says so; the middleware's writer still lets a handler
// flush.
func TestAccessLogOfPlainAnswers(t *testing.T) {
	h, logs := newAPI(t)
	for path, size := range map[string]float64{"/plain": 5, "/nothing": 0} {
		logs.Reset()
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("x-api-key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code, path)
		assert.True(t, w.Flushed || path == "/nothing", path)
		var line map[string]any
		require.NoError(t, json.Unmarshal(logs.Bytes(), &line), logs.String())
		assert.Equal(t, float64(200), line["status"], path)
		assert.Equal(t, size, line["bytes"], path)
	}
}

// A path whose route holds a {token} is logged as the route: the token is a
// credential and never reaches a log.
func TestTokensStayOutOfAccessLogs(t *testing.T) {
	h, logs := newAPI(t)
	r := httptest.NewRequest("GET", "/approve/s3cr3t-t0ken", nil)
	r.Header.Set("x-api-key", key)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.NotContains(t, logs.String(), "s3cr3t-t0ken")
	assert.Contains(t, logs.String(), `"path":"/approve/{token}"`)
}
