package vectorserver

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/embedded"
)

func do(s *Server, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestRequestsTheServerRefuses(t *testing.T) {
	s, err := New(Options{Token: "t", Dimension: 2})
	require.NoError(t, err)
	for _, tc := range []struct {
		method, path, body string
		status             int
		says               string
	}{
		{"PUT", "/upsert", `{}`, 405, "method"},
		{"POST", "/nope", `{}`, 404, "unknown endpoint"},
		{"POST", "/upsert", strings.Repeat(" ", MaxBody+1), 413, "too large"},
		{"POST", "/upsert", `{"vector":[1,2]}`, 400, "id"},
		{"POST", "/upsert-data", `{"id":"a","data":"x"}`, 400, "embeds no data"},
		{"POST", "/query", `{"vector":[1,2],"filter":"a = 1"}`, 400, "filter"},
		{"POST", "/query", `{"vector":[1,2],"topK":0}`, 400, "topK"},
		{"POST", "/range", `{"cursor":"x","limit":1}`, 400, "cursor"},
		{"POST", "/range", `{"cursor":"0","limit":0}`, 400, "limit"},
		{"POST", "/delete-namespace", ``, 400, "default namespace"},
		{"POST", "/delete-namespace/none", ``, 404, "does not exist"},
		{"POST", "/fetch", `{"ids":[true]}`, 400, "parse"},
	} {
		w := do(s, tc.method, tc.path, tc.body)
		assert.Equal(t, tc.status, w.Code, "%s %s", tc.path, w.Body)
		assert.Contains(t, w.Body.String(), tc.says, tc.path)
	}
	assert.Equal(t, "vectorserver: a token and a dimension are required", func() string { _, err := New(Options{}); return err.Error() }())
}

func TestPrefixesAndNumbers(t *testing.T) {
	s, err := New(Options{Token: "t", Dimension: 2})
	require.NoError(t, err)
	require.Equal(t, 200, do(s, "POST", "/upsert", `[{"id":"ab-1","vector":[1,0]},{"id":"ab-2","vector":[0,1]},{"id":7,"vector":[1,1]}]`).Code)
	w := do(s, "POST", "/fetch", `{"prefix":"ab-"}`)
	assert.JSONEq(t, `{"result":[{"id":"ab-1"},{"id":"ab-2"}]}`, w.Body.String())
	w = do(s, "POST", "/fetch", `["7"]`)
	assert.JSONEq(t, `{"result":[{"id":"7"}]}`, w.Body.String(), "a numeric id is its decimal text")
	w = do(s, "POST", "/delete", `{"prefix":"ab-"}`)
	assert.JSONEq(t, `{"result":{"deleted":2}}`, w.Body.String())
	w = do(s, "POST", "/range", `{"cursor":0,"limit":5,"prefix":"7"}`)
	assert.JSONEq(t, `{"result":{"nextCursor":"","vectors":[{"id":"7"}]}}`, w.Body.String())
}

// Under everysec, a write is answered once written to the OS, and the
// journal is fsynced within a second; a restart reads it back.
func TestEverySec(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Token: "t", Dimension: 2, Dir: dir, Fsync: embedded.EverySec})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, do(s, "POST", "/upsert", `{"id":"a","vector":[1,0]}`).Code)
	time.Sleep(1100 * time.Millisecond)
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"id":"a"`)
	require.NoError(t, s.Close())
	s, err = New(Options{Token: "t", Dimension: 2, Dir: dir, Fsync: embedded.EverySec})
	require.NoError(t, err)
	defer s.Close()
	assert.Contains(t, do(s, "POST", "/fetch", `["a"]`).Body.String(), `"id":"a"`)
}
