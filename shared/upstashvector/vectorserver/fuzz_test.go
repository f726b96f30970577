package vectorserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests: no body makes an endpoint panic or fail inside; a bad one
// is a 4xx with an error.
func FuzzRequests(f *testing.F) {
	endpoints := []string{"upsert", "upsert-data", "query", "query-data", "fetch", "delete", "range", "info", "reset", "upsert/ns", "query/ns"}
	for i, body := range []string{
		`[{"id":"a","vector":[1,0]}]`, `{"id":1,"vector":[0,1],"metadata":{"x":1}}`, `{"vector":[1,1],"topK":3,"includeMetadata":true}`,
		`[{"vector":[1,1],"topK":1},{"data":"x","topK":2}]`, `{"ids":["a",2]}`, `["a"]`, `{"prefix":"a"}`, `{"cursor":"0","limit":1}`,
		`{"cursor":5,"limit":1000,"prefix":"x"}`, `[]`, `{"data":"abc","id":"d"}`, `{"topK":0,"vector":[1,2]}`, `null`, ``,
	} {
		f.Add(uint8(i), body)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		s, err := New(Options{Token: "t", Dimension: 2, Embed: func(string) []float32 { return []float32{1, 0} }})
		if err != nil {
			t.Fatal(err)
		}
		s.apply(record{Op: "upsert", Items: []*item{{ID: "a", Vector: []float32{1, 0}}}})
		r := httptest.NewRequest(http.MethodPost, "/"+endpoints[int(which)%len(endpoints)], strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 || (w.Code != 200 && !strings.Contains(w.Body.String(), `"error"`)) {
			t.Fatalf("%s %q: %d %s", endpoints[int(which)%len(endpoints)], body, w.Code, w.Body)
		}
	})
}
