package restserver_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstash/restserver"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// call sends a raw request and returns the status, decoded JSON body and
// headers.
func call(t *testing.T, method, target, body string, header map[string]string) (int, any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v any
	if len(raw) > 0 && method != http.MethodHead {
		require.NoError(t, json.Unmarshal(raw, &v), "body %q", raw)
	}
	return resp.StatusCode, v, resp.Header
}

var auth = map[string]string{"Authorization": "Bearer " + upstashtest.Token}

func TestAuth(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			wantErr := map[string]any{"error": "WRONGPASS invalid or missing auth token"}
			for name, h := range map[string]map[string]string{
				"missing":     nil,
				"wrong":       {"Authorization": "Bearer nope"},
				"not bearer":  {"Authorization": "Basic " + upstashtest.Token},
				"empty token": {"Authorization": "Bearer "},
			} {
				status, body, _ := call(t, "POST", b.URL, `["PING"]`, h)
				assert.Equal(t, http.StatusUnauthorized, status, name)
				assert.Equal(t, wantErr, body, name)
			}
			status, body, _ := call(t, "GET", b.URL+"/ping?_token=wrong", "", nil)
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, wantErr, body)

			status, body, _ = call(t, "GET", b.URL+"/ping?_token="+upstashtest.Token, "", nil)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"result": "PONG"}, body)
			status, body, _ = call(t, "POST", b.URL, `["PING"]`, map[string]string{"Authorization": "bearer " + upstashtest.Token})
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"result": "PONG"}, body)
		})
	}
}

func TestPathForm(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			status, body, _ := call(t, "GET", b.URL+"/set/k/v/EX/100", "", auth)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"result": "OK"}, body)
			_, body, _ = call(t, "GET", b.URL+"/ttl/k", "", auth)
			assert.InDelta(t, 100, body.(map[string]any)["result"], 1)

			// The POST body is the last argument, and may be anything.
			raw := "line one\nline \"two\" / with slashes"
			status, _, _ = call(t, "POST", b.URL+"/set/doc?EX=50", raw, auth)
			assert.Equal(t, http.StatusOK, status)
			_, body, _ = call(t, "GET", b.URL+"/get/doc", "", auth)
			assert.Equal(t, map[string]any{"result": raw}, body)
			_, body, _ = call(t, "GET", b.URL+"/ttl/doc", "", auth)
			assert.InDelta(t, 50, body.(map[string]any)["result"], 1)

			// Escaped slashes and spaces stay inside one argument.
			key := "a/b c"
			_, _, _ = call(t, "PUT", b.URL+"/set/"+url.PathEscape(key)+"/"+url.PathEscape("x/y"), "", auth)
			_, body, _ = call(t, "GET", b.URL+"/get/"+url.PathEscape(key), "", auth)
			assert.Equal(t, map[string]any{"result": "x/y"}, body)

			status, _, hdr := call(t, "HEAD", b.URL+"/get/doc", "", auth)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
		})
	}
}

func TestBase64AnswersLeaveOKAlone(t *testing.T) {
	b := upstashtest.Mini(t)
	h := map[string]string{"Authorization": auth["Authorization"], "Upstash-Encoding": "base64"}
	_, body, _ := call(t, "POST", b.URL, `["SET","k","héllo"]`, h)
	assert.Equal(t, map[string]any{"result": "OK"}, body)
	_, body, _ = call(t, "POST", b.URL, `["GET","k"]`, h)
	assert.Equal(t, map[string]any{"result": base64.StdEncoding.EncodeToString([]byte("héllo"))}, body)
	_, body, _ = call(t, "POST", b.URL, `["PING"]`, h)
	assert.Equal(t, map[string]any{"result": base64.StdEncoding.EncodeToString([]byte("PONG"))}, body)
	_, body, _ = call(t, "POST", b.URL+"/pipeline", `[["INCR","n"],["MGET","k","none"],["LPUSH","k","x"]]`, h)
	assert.Equal(t, []any{
		map[string]any{"result": float64(1)},
		map[string]any{"result": []any{base64.StdEncoding.EncodeToString([]byte("héllo")), nil}},
		map[string]any{"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
	}, body)
	// Without the header, strings come back as they are.
	_, body, _ = call(t, "POST", b.URL, `["GET","k"]`, auth)
	assert.Equal(t, map[string]any{"result": "héllo"}, body)
}

func TestRequestsUpstashRefuses(t *testing.T) {
	b := upstashtest.Mini(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
		errContains        string
	}{
		{"DELETE", "/get/k", "", http.StatusMethodNotAllowed, "method not allowed"},
		{"PATCH", "/", `["PING"]`, http.StatusMethodNotAllowed, "method not allowed"},
		{"GET", "/pipeline", "", http.StatusMethodNotAllowed, "method not allowed"},
		{"POST", "/", `["BLPOP","q",0]`, http.StatusBadRequest, "not available"},
		{"POST", "/", `["watch","k"]`, http.StatusBadRequest, "not available"},
		{"POST", "/", `["XREAD","BLOCK",0,"STREAMS","s","$"]`, http.StatusBadRequest, "not available"},
		{"POST", "/", `["CONFIG","SET","appendonly","no"]`, http.StatusBadRequest, "not available"},
		{"GET", "/config/get/maxmemory", "", http.StatusBadRequest, "not available"},
		{"POST", "/subscribe/", "", http.StatusBadRequest, "wrong number of arguments"},
		{"POST", "/pipeline", `[["GET","a"],["BRPOP","q",0]]`, http.StatusBadRequest, "not available"},
		{"POST", "/multi-exec", `[["MULTI"]]`, http.StatusBadRequest, "not available"},
		{"POST", "/", `not json`, http.StatusBadRequest, "ERR"},
		{"POST", "/", `[]`, http.StatusBadRequest, "empty command"},
		{"POST", "/", `[""]`, http.StatusBadRequest, "empty command name"},
		{"POST", "/", `["GET",null]`, http.StatusBadRequest, "strings, numbers or booleans"},
		{"POST", "/", `["GET",{"a":1}]`, http.StatusBadRequest, "strings, numbers or booleans"},
		{"POST", "/", `["GET","a"] x`, http.StatusBadRequest, "after the JSON value"},
		{"POST", "/pipeline", `[]`, http.StatusBadRequest, "empty pipeline"},
		{"POST", "/pipeline", `[["GET","a"],[]]`, http.StatusBadRequest, "command 1"},
		{"POST", "/", `["NOSUCHCOMMAND"]`, http.StatusBadRequest, "unknown command"},
		{"GET", "/", "", http.StatusBadRequest, "ERR"},
	} {
		status, body, _ := call(t, tc.method, b.URL+tc.path, tc.body, auth)
		assert.Equal(t, tc.status, status, "%s %s %s", tc.method, tc.path, tc.body)
		if tc.method != "HEAD" {
			assert.Contains(t, body.(map[string]any)["error"], tc.errContains, "%s %s %s", tc.method, tc.path, tc.body)
		}
	}
}

func TestArgumentsMayBeNumbersAndBooleans(t *testing.T) {
	b := upstashtest.Mini(t)
	_, body, _ := call(t, "POST", b.URL, `["SET","k",12.5,"EX",100]`, auth)
	assert.Equal(t, map[string]any{"result": "OK"}, body)
	_, body, _ = call(t, "POST", b.URL, `["GET","k"]`, auth)
	assert.Equal(t, map[string]any{"result": "12.5"}, body)
	_, body, _ = call(t, "POST", b.URL, `["SET","b",true]`, auth)
	assert.Equal(t, map[string]any{"result": "OK"}, body)
	_, body, _ = call(t, "POST", b.URL, `["GET","b"]`, auth)
	assert.Equal(t, map[string]any{"result": "true"}, body)
}

func TestAnyContentTypeAndSyncToken(t *testing.T) {
	b := upstashtest.Mini(t)
	h := map[string]string{"Authorization": auth["Authorization"], "Content-Type": "text/plain"}
	status, body, hdr := call(t, "POST", b.URL, `["PING"]`, h)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"result": "PONG"}, body)
	first := hdr.Get("Upstash-Sync-Token")
	assert.NotEmpty(t, first)
	_, _, hdr = call(t, "POST", b.URL, `["PING"]`, h)
	assert.NotEqual(t, first, hdr.Get("Upstash-Sync-Token"))
}

func TestRequestSizeLimit(t *testing.T) {
	b := upstashtest.Mini(t)
	big := `["SET","k","` + strings.Repeat("x", restserver.DefaultMaxBodyBytes) + `"]`
	status, body, _ := call(t, "POST", b.URL, big, auth)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, map[string]any{"error": "ERR max request size exceeded"}, body)
	_, body, _ = call(t, "POST", b.URL, `["EXISTS","k"]`, auth)
	assert.Equal(t, map[string]any{"result": float64(0)}, body, "nothing was written")
}

func TestBackendDownAnswers503(t *testing.T) {
	b := upstashtest.Real(t)
	b.Redis.Stop()
	for _, path := range []string{"/", "/pipeline", "/multi-exec"} {
		body := `["GET","k"]`
		if path != "/" {
			body = `[["GET","k"]]`
		}
		status, got, _ := call(t, "POST", b.URL+path, body, auth)
		assert.Equal(t, http.StatusServiceUnavailable, status, path)
		assert.Equal(t, map[string]any{"error": "ERR backend unavailable"}, got, path)
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"/set/k/v", []string{"set", "k", "v"}, ""},
		{"/get/a%2Fb/", []string{"get", "a/b"}, ""},
		{"/get/%zz", nil, "bad escape"},
		{"/", nil, "empty command"},
		{"//k", nil, "empty command name"},
	} {
		got, err := restserver.ParsePath(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := restserver.New(restserver.Options{RedisURL: "redis://127.0.0.1:1"})
	assert.ErrorContains(t, err, "token is required")
	_, err = restserver.New(restserver.Options{RedisURL: "mysql://x", Token: "t"})
	assert.ErrorContains(t, err, "redis URL")
}

// readEvents reads SSE data lines from body and sends them on a channel.
func readEvents(body io.Reader) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				ch <- line
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return ""
	}
}

func stream(t *testing.T, ctx context.Context, target string) <-chan string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", target, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", auth["Authorization"])
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return readEvents(resp.Body)
}

func TestPubSubAsServerSentEvents(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events := stream(t, ctx, b.URL+"/subscribe/news")
			assert.Equal(t, "subscribe,news,1", next(t, events))
			pevents := stream(t, ctx, b.URL+"/psubscribe/ne*")
			assert.Equal(t, "psubscribe,ne*,1", next(t, pevents))

			status, body, _ := call(t, "POST", b.URL+"/publish/news/hello,world", "", auth)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"result": float64(2)}, body)
			assert.Equal(t, "message,news,hello,world", next(t, events))
			assert.Equal(t, "pmessage,ne*,news,hello,world", next(t, pevents))

			_, _, _ = call(t, "POST", b.URL+"/publish/news", "two\nlines", auth)
			assert.Equal(t, `message,news,two\nlines`, next(t, events))
		})
	}
}

func TestMonitorAsServerSentEvents(t *testing.T) {
	b := upstashtest.Real(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := stream(t, ctx, b.URL+"/monitor")
	assert.Equal(t, "OK", next(t, events))
	_, _, _ = call(t, "POST", b.URL, `["SET","watched","1"]`, auth)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line := <-events:
			if strings.Contains(line, `"watched"`) {
				return
			}
		case <-deadline:
			t.Fatal("MONITOR did not show the SET")
		}
	}
}

// MONITOR runs on a connection of its own, which logs in as the REDIS_URL
// says (an ACL user and password, a database) as go-redis's pool does; a
// wrong password is a backend failure, not a hang.
func TestMonitorLogsInAsTheURLSays(t *testing.T) {
	rs := redistest.StartWith(t, "--user", "ops", "on", ">s3cret", "~*", "&*", "+@all")
	srv, err := restserver.New(restserver.Options{RedisURL: "redis://ops:s3cret@" + rs.Addr + "/2", Token: upstashtest.Token})
	require.NoError(t, err)
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := stream(t, ctx, hs.URL+"/monitor")
	assert.Equal(t, "OK", next(t, events))
	_, _, _ = call(t, "POST", hs.URL, `["SET","watched","1"]`, auth)
	deadline := time.After(5 * time.Second)
	for seen := false; !seen; {
		select {
		case line := <-events:
			seen = strings.Contains(line, `[2 `) && strings.Contains(line, `"watched"`)
		case <-deadline:
			t.Fatal("MONITOR did not show the SET on database 2")
		}
	}

	bad, err := restserver.New(restserver.Options{RedisURL: "redis://ops:wrong@" + rs.Addr + "/2", Token: upstashtest.Token})
	require.NoError(t, err)
	defer bad.Close()
	hb := httptest.NewServer(bad)
	defer hb.Close()
	status, _, _ := call(t, "POST", hb.URL+"/monitor", "", auth)
	assert.GreaterOrEqual(t, status, 500)
}
