package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/servicetest"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// testEnv is a configuration on free ports with its own data folder.
func testEnv(t *testing.T, extra map[string]string) map[string]string {
	m := map[string]string{"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_REST_ADDR": "127.0.0.1:0", "LOCAL_VECTOR_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir()}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func startStack(t *testing.T, env map[string]string) (*Stack, Config, string) {
	t.Helper()
	cfg, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	var out bytes.Buffer
	s, err := Start(context.Background(), cfg, &out, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, cfg, out.String()
}

func getHealth(t *testing.T, s *Stack, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.APIURL+"/api/health", nil)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func TestEmbeddedStack(t *testing.T) {
	s, cfg, banner := startStack(t, testEnv(t, nil))
	assert.Equal(t, "embedded", s.Store)

	status, body := getHealth(t, s, cfg.APIKey)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "healthy", body["status"])
	assert.Equal(t, "local", body["store"].(map[string]any)["backend"])
	status, _ = getHealth(t, s, "")
	assert.Equal(t, http.StatusForbidden, status)

	// The REST endpoint is real: any Upstash client can use it.
	c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: s.RESTURL, Token: cfg.RESTToken}})
	require.NoError(t, err)
	_, err = c.Do(context.Background(), "SET", "hello", "world")
	require.NoError(t, err)
	v, err := upstash.String(c.Do(context.Background(), "GET", "hello"))
	require.NoError(t, err)
	assert.Equal(t, "world", v)
	_, body = getHealth(t, s, cfg.APIKey)
	assert.GreaterOrEqual(t, body["store"].(map[string]any)["keys"], float64(1), "the key set, and metric counters")

	bad, err := upstash.New(upstash.Options{Options: restclient.Options{URL: s.RESTURL, Token: "wrong"}})
	require.NoError(t, err)
	_, err = bad.Do(context.Background(), "GET", "hello")
	assert.True(t, upstash.HasPrefix(err, "WRONGPASS"))

	assert.NotContains(t, banner, cfg.WebhookSecret, "the webhook secret is not printed")
	assert.NotContains(t, banner, cfg.LinkSecret, "nor the approvers' link secret")
	assert.NotContains(t, banner, cfg.CallbackJWTSecret, "nor the callback JWT secret")
	assert.Contains(t, banner, "callback_jwt_secret")
	for _, want := range []string{s.APIURL, s.RESTURL, cfg.APIKey, cfg.RESTToken, "curl -s -H 'x-api-key: " + cfg.APIKey + "' " + s.APIURL + "/api/health"} {
		assert.Contains(t, banner, want)
	}
	assert.ElementsMatch(t, []string{"API_KEY", "LOCAL_REST_TOKEN", "WEBHOOK_SECRET", "APPROVAL_LINK_SECRET", "LOCAL_VECTOR_TOKEN", "CALLBACK_JWT_SECRET"}, cfg.Generated)
	assert.Contains(t, banner, s.VectorURL)
	assert.Contains(t, banner, cfg.VectorToken, "the vector token is printed, as the REST token is")
}

// The stack serves the failure memory's vector index: ingest fills it, a
// similar failure is found, and the index outlives a restart.
func TestStackVectorIndex(t *testing.T) {
	env := testEnv(t, nil)
	s, cfg, _ := startStack(t, env)
	post := func(s *Stack, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", s.APIURL+path, strings.NewReader(body))
		req.Header.Set("x-api-key", cfg.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Less(t, resp.StatusCode, 300, "%v", out)
		return out
	}
	post(s, "/api/results", `{"workflow_id":"ABC-123456","test_suite":"unit","cases":[{"name":"t","outcome":"failed","message":"KeyError: 'session_token' in auth middleware"}]}`)
	similar := `{"text":"KeyError: 'session_token' in auth middleware (request 42)"}`
	items := post(s, "/api/failures/similar", similar)["items"].([]any)
	require.Len(t, items, 1)

	// The endpoint speaks Upstash Vector's protocol, with its token.
	req, _ := http.NewRequest("POST", s.VectorURL+"/info", strings.NewReader("[]"))
	req.Header.Set("Authorization", "Bearer "+cfg.VectorToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var info map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	resp.Body.Close()
	assert.Equal(t, float64(1), info["result"].(map[string]any)["vectorCount"])
	req, _ = http.NewRequest("POST", s.VectorURL+"/info", strings.NewReader("[]"))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	require.NoError(t, s.Shutdown(context.Background()))
	s2, _, _ := startStack(t, env)
	assert.Len(t, post(s2, "/api/failures/similar", similar)["items"], 1, "the index is kept across a restart")
}

func TestStackServesTheAPI(t *testing.T) {
	s, cfg, _ := startStack(t, testEnv(t, nil))
	// do makes one API call and checks that it cost exactly trips requests
	// at the REST endpoint.
	do := func(method, path, body string, trips int64) (*http.Response, []byte) {
		t.Helper()
		before := s.RESTRequests()
		req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("x-api-key", cfg.APIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.NoError(t, servicetest.CheckContract(req, resp.StatusCode, resp.Header, raw), "%s %s", method, path)
		assert.Equal(t, trips, s.RESTRequests()-before, "Upstash requests for %s %s", method, path)
		return resp, raw
	}
	resp, raw := do("POST", "/api/workflow/state", `{"workflow_id":"ABC-123456","feature_description":"Add login"}`, 1)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
	resp, _ = do("PATCH", "/api/workflow/state/ABC-123456", `{"status":"in_progress"}`, 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do("GET", "/api/workflow/state/ABC-123456", "", 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do("GET", "/api/workflow/state/ABC-123456/history", "", 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do("POST", "/api/lock/build", `{"owner":"me"}`, 1)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, raw = do("POST", "/api/approval", `{"workflow_id":"ABC-123456","request_type":"code","content":"Review","requester":"bot","callback_url":"http://localhost:1/hook"}`, 1)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "loopback callbacks are allowed locally: %s", raw)
	resp, raw = do("POST", "/api/approval", `{"workflow_id":"ABC-123456","request_type":"code","content":"Review","requester":"bot"}`, 1)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
	var a struct {
		ID string `json:"approval_id"`
	}
	require.NoError(t, json.Unmarshal(raw, &a))
	resp, _ = do("GET", "/api/approval/"+a.ID, "", 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, raw = do("POST", "/api/approval/"+a.ID+"/decision", `{"decision":"approved","approver":"alice"}`, 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	resp, raw = do("POST", "/api/results", `{"workflow_id":"ABC-123456","test_suite":"unit","passed":3,"failed":0,"skipped":0,"duration_seconds":1}`, 1)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
	resp, _ = do("GET", "/api/results?workflow_id=ABC-123456", "", 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do("GET", "/api/workflow/state/ABC-999999", "", 1)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, raw = do("GET", "/api/metrics?hours=1", "", 1)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(raw), `"workflow_created":1`)
	resp, raw = do("GET", "/api/openapi.json", "", 0)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(raw), `"openapi":"3.1.0"`)
	resp, _ = do("POST", "/api/workflow/state", `{"workflow_id":"bad id"}`, 0)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a bad request never reaches the store")
}

func TestSecretsAreKeptAcrossRestarts(t *testing.T) {
	env := testEnv(t, map[string]string{"WEBHOOK_SECRET": "given"})
	first, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	second, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	assert.Equal(t, first.APIKey, second.APIKey)
	assert.Equal(t, first.RESTToken, second.RESTToken)
	assert.Equal(t, "given", second.WebhookSecret)
	assert.Equal(t, first.VectorToken, second.VectorToken, "the vector token is kept too")
	assert.Len(t, first.APIKey, 48)
	assert.NotEqual(t, first.APIKey, first.RESTToken)
	fi, err := os.Stat(filepath.Join(env["DATA_DIR"], "secrets.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	env["API_KEY"] = "set-by-me"
	third, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	assert.Equal(t, "set-by-me", third.APIKey)
	assert.Equal(t, []string{"LOCAL_REST_TOKEN", "APPROVAL_LINK_SECRET", "LOCAL_VECTOR_TOKEN", "CALLBACK_JWT_SECRET"}, third.Generated)
	// The approvers' link secret is generated and kept too, and links point
	// at the stack's own API unless PUBLIC_BASE_URL says otherwise.
	assert.Len(t, third.LinkSecret, 48)
	assert.Equal(t, first.LinkSecret, third.LinkSecret)
	assert.Equal(t, third.LinkSecret, third.Service.Approvals.LinkSecret)
	assert.Equal(t, "http://127.0.0.1:0", third.Service.Approvals.PublicBaseURL)
	env["PUBLIC_BASE_URL"] = "https://approve.example.com/"
	fourth, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	assert.Equal(t, "https://approve.example.com", fourth.Service.Approvals.PublicBaseURL)
}

func TestRealRedisStack(t *testing.T) {
	rs := redistest.Start(t)
	s, cfg, banner := startStack(t, testEnv(t, map[string]string{"REDIS_URL": rs.URL()}))
	assert.Equal(t, "redis", s.Store)
	assert.Contains(t, banner, "Redis at REDIS_URL")
	_, err := s.Client.Do(context.Background(), "SET", "k", "v")
	require.NoError(t, err)
	status, body := getHealth(t, s, cfg.APIKey)
	assert.Equal(t, http.StatusOK, status)
	assert.GreaterOrEqual(t, body["store"].(map[string]any)["keys"], float64(1), "the key set, and metric counters")
	assert.Equal(t, "redis", body["store"].(map[string]any)["backend"])

	_, err = ReadConfig(config.MapLookup(map[string]string{"REDIS_URL": rs.URL(), "UPSTASH_REDIS_REST_URL": "https://x", "UPSTASH_REDIS_REST_TOKEN": "t"}))
	assert.ErrorContains(t, err, "not both")

	env := testEnv(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"})
	cfg, err = ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	_, err = Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "reach Redis at REDIS_URL")
}

func TestRemoteUpstashStack(t *testing.T) {
	b := upstashtest.Mini(t)
	s, cfg, banner := startStack(t, testEnv(t, map[string]string{"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token}))
	assert.Equal(t, "upstash", s.Store)
	assert.Empty(t, s.RESTURL, "no local REST endpoint")
	assert.NotContains(t, banner, upstashtest.Token, "the remote token is not printed")
	status, body := getHealth(t, s, cfg.APIKey)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "upstash", body["store"].(map[string]any)["backend"])

	_, err := ReadConfig(config.MapLookup(map[string]string{"UPSTASH_REDIS_REST_URL": "https://x"}))
	assert.ErrorContains(t, err, "UPSTASH_REDIS_REST_TOKEN is required")
	_, err = ReadConfig(config.MapLookup(map[string]string{"SWEEP_INTERVAL": "soon"}))
	assert.ErrorContains(t, err, "SWEEP_INTERVAL")
}

func TestPortInUse(t *testing.T) {
	s, _, _ := startStack(t, testEnv(t, nil))
	env := testEnv(t, map[string]string{"LOCAL_ADDR": strings.TrimPrefix(s.APIURL, "http://")})
	cfg, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	_, err = Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "LOCAL_ADDR")
}

func TestDataSurvivesARestart(t *testing.T) {
	env := testEnv(t, map[string]string{"SWEEP_INTERVAL": "50ms", "BACKUP_INTERVAL": "100ms"})
	s, cfg, _ := startStack(t, env)
	_, err := s.Client.Do(context.Background(), "SET", "ai_rails_workflow_ABC-123456", `{"workflow_id":"ABC-123456"}`, "PX", 600000)
	require.NoError(t, err)
	_, err = s.Client.Do(context.Background(), "ZADD", "ai_rails_index_workflows", 1, "GON-000001")
	require.NoError(t, err)

	// The sweeper runs on its own: the entry of a key that is gone is pruned.
	require.Eventually(t, func() bool {
		n, _ := upstash.Int64(s.Client.Do(context.Background(), "ZCARD", "ai_rails_index_workflows"))
		return n == 0
	}, 5*time.Second, 20*time.Millisecond)
	// And backups appear.
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(cfg.BackupDir, "*", "*", "*", "*.jsonl.gz"))
		return len(files) > 0
	}, 5*time.Second, 20*time.Millisecond)

	require.NoError(t, s.Shutdown(context.Background()))
	_, err = os.Stat(filepath.Join(cfg.DataDir, "store.snapshot"))
	require.NoError(t, err, "a snapshot on shutdown")

	again, _, banner := startStack(t, env)
	v, err := upstash.String(again.Client.Do(context.Background(), "GET", "ai_rails_workflow_ABC-123456"))
	require.NoError(t, err)
	assert.Equal(t, `{"workflow_id":"ABC-123456"}`, v, "restored on start")
	ttl, _ := upstash.Int64(again.Client.Do(context.Background(), "PTTL", "ai_rails_workflow_ABC-123456"))
	assert.Greater(t, ttl, int64(500000), "with its TTL")
	assert.Contains(t, banner, "restored")
}

// Counters not yet flushed when the stack stops are written at shutdown, so
// the embedded store's snapshot keeps them.
func TestMetricsAreFlushedAtShutdown(t *testing.T) {
	env := testEnv(t, map[string]string{"METRICS_FLUSH_INTERVAL": "1h"})
	s, cfg, _ := startStack(t, env)
	req, _ := http.NewRequest("POST", s.APIURL+"/api/workflow/state", strings.NewReader(`{"workflow_id":"ABC-123456","feature_description":"x"}`))
	req.Header.Set("x-api-key", cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NoError(t, s.Shutdown(context.Background()))

	again, _, _ := startStack(t, env)
	req, _ = http.NewRequest("GET", again.APIURL+"/api/metrics?hours=1", nil)
	req.Header.Set("x-api-key", cfg.APIKey)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(raw), `"workflow_created":1`)
	assert.Contains(t, string(raw), `"requests":1`, "the first stack's one request")
}

// apiCall makes one API call with the stack's key and returns the status and
// body.
func apiCall(t *testing.T, s *Stack, key, method, path, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("x-api-key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

// On the embedded store, TTLs run out on the wall clock, through the REST
// endpoint and through the API, as on Redis.
func TestEmbeddedStoreKeepsTime(t *testing.T) {
	s, cfg, _ := startStack(t, testEnv(t, nil))
	c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: s.RESTURL, Token: cfg.RESTToken}})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Do(ctx, "SET", "k", "v", "PX", 200)
	require.NoError(t, err)
	_, err = c.Do(ctx, "SET", "slow", "v", "EX", 60)
	require.NoError(t, err)
	first, err := upstash.Int64(c.Do(ctx, "PTTL", "slow"))
	require.NoError(t, err)

	status, raw := apiCall(t, s, cfg.APIKey, "POST", "/api/lock/build", `{"owner":"dies","ttl_seconds":1}`, nil)
	require.Equal(t, http.StatusCreated, status, "%s", raw)
	status, _ = apiCall(t, s, cfg.APIKey, "POST", "/api/lock/build", `{"owner":"waits","ttl_seconds":1}`, nil)
	require.Equal(t, http.StatusConflict, status, "held")

	time.Sleep(300 * time.Millisecond)
	_, err = c.Do(ctx, "GET", "k")
	assert.ErrorIs(t, err, upstash.ErrNil, "SET PX 200 is gone after 300 ms")
	later, err := upstash.Int64(c.Do(ctx, "PTTL", "slow"))
	require.NoError(t, err)
	assert.Less(t, later, first-250, "PTTL counts down")

	require.Eventually(t, func() bool {
		status, _ := apiCall(t, s, cfg.APIKey, "POST", "/api/lock/build", `{"owner":"waits","ttl_seconds":1}`, nil)
		return status == http.StatusCreated
	}, 3*time.Second, 50*time.Millisecond, "another owner takes the lock once its TTL runs out")
}

// A TTL set before a restart runs out on time after it.
func TestTTLsRunOnAcrossARestart(t *testing.T) {
	env := testEnv(t, nil)
	s, _, _ := startStack(t, env)
	ctx := context.Background()
	_, err := s.Client.Do(ctx, "SET", "due", "v", "PX", 1500)
	require.NoError(t, err)
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, s.Shutdown(ctx))

	again, _, banner := startStack(t, env)
	assert.Contains(t, banner, "restored")
	ttl, err := upstash.Int64(again.Client.Do(ctx, "PTTL", "due"))
	require.NoError(t, err)
	assert.Greater(t, ttl, int64(0))
	assert.LessOrEqual(t, ttl, int64(800), "the time before the restart counts")
	time.Sleep(time.Duration(ttl+100) * time.Millisecond)
	_, err = again.Client.Do(ctx, "GET", "due")
	assert.ErrorIs(t, err, upstash.ErrNil)
}

// A snapshot left by a stack that saved only on shutdown is restored once.
func TestAnOldSnapshotIsMigrated(t *testing.T) {
	env := testEnv(t, nil)
	src := upstashtest.Mini(t)
	c := src.Client(t, upstash.Options{})
	ctx := context.Background()
	_, err := c.Do(ctx, "SET", "ai_rails_workflow_ABC-123456", "old", "EX", 3600)
	require.NoError(t, err)
	schema, err := keys.New("")
	require.NoError(t, err)
	f, err := os.Create(filepath.Join(env["DATA_DIR"], LegacySnapshotName))
	require.NoError(t, err)
	_, err = backup.Dump(ctx, c, schema, f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, _, banner := startStack(t, env)
	assert.Contains(t, banner, "migrated")
	v, err := upstash.String(s.Client.Do(ctx, "GET", "ai_rails_workflow_ABC-123456"))
	require.NoError(t, err)
	assert.Equal(t, "old", v)
	_, err = os.Stat(filepath.Join(env["DATA_DIR"], LegacySnapshotName+".migrated"))
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(ctx))

	again, _, banner := startStack(t, env)
	assert.NotContains(t, banner, "migrated", "once")
	v, err = upstash.String(again.Client.Do(ctx, "GET", "ai_rails_workflow_ABC-123456"))
	require.NoError(t, err)
	assert.Equal(t, "old", v, "kept by the journal")
}

func TestFsyncSetting(t *testing.T) {
	for _, v := range []string{"always", "everysec"} {
		cfg, err := ReadConfig(config.MapLookup(testEnv(t, map[string]string{"LOCAL_FSYNC": v})))
		require.NoError(t, err)
		assert.EqualValues(t, v, cfg.Fsync)
	}
	cfg, err := ReadConfig(config.MapLookup(testEnv(t, nil)))
	require.NoError(t, err)
	assert.EqualValues(t, "always", cfg.Fsync, "the default")
	_, err = ReadConfig(config.MapLookup(testEnv(t, map[string]string{"LOCAL_FSYNC": "never"})))
	assert.ErrorContains(t, err, "LOCAL_FSYNC")
}

// Both of the stack's servers cut off a client that sends its request a
// byte at a time.
func TestSlowClientsAreCutOff(t *testing.T) {
	s, _, _ := startStack(t, testEnv(t, map[string]string{"LOCAL_READ_TIMEOUT": "300ms"}))
	for _, base := range []string{s.APIURL, s.RESTURL} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		require.NoError(t, err)
		_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		require.NoError(t, err)
		done := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, conn); close(done) }() // ends when the server closes
		start := time.Now()
	send:
		for range 60 { // 3 s if nothing stops it
			select {
			case <-done:
				break send
			case <-time.After(50 * time.Millisecond):
				_, _ = conn.Write([]byte(" "))
			}
		}
		select {
		case <-done:
			assert.Less(t, time.Since(start), 2*time.Second, "%s closed the connection in time", base)
		case <-time.After(time.Second):
			t.Errorf("%s kept a slow client", base)
		}
		conn.Close()
	}
}

// With insecure callbacks allowed (the local default), a callback still
// cannot point at the stack's own REST endpoint or API.
func TestCallbacksCannotReachTheStack(t *testing.T) {
	s, cfg, _ := startStack(t, testEnv(t, nil))
	status, raw := apiCall(t, s, cfg.APIKey, "POST", "/api/workflow/state", `{"workflow_id":"ABC-123456","feature_description":"x"}`, nil)
	require.Equal(t, http.StatusCreated, status, "%s", raw)
	restPort := s.RESTURL[strings.LastIndex(s.RESTURL, ":")+1:]
	apiPort := s.APIURL[strings.LastIndex(s.APIURL, ":")+1:]
	for _, cb := range []string{
		s.RESTURL + "/set/pwned/1?_token=" + cfg.RESTToken,
		"http://localhost:" + restPort + "/set/pwned/1",
		"http://[::1]:" + apiPort + "/api/workflow/state",
		"http://localhost:9/x?_token=abc",
	} {
		body := fmt.Sprintf(`{"workflow_id":"ABC-123456","request_type":"deploy","content":"c","requester":"bot","callback_url":%q}`, cb)
		status, raw := apiCall(t, s, cfg.APIKey, "POST", "/api/approval", body, nil)
		assert.Equal(t, http.StatusBadRequest, status, "%s: %s", cb, raw)
	}
	status, raw = apiCall(t, s, cfg.APIKey, "POST", "/api/approval",
		`{"workflow_id":"ABC-123456","request_type":"deploy","content":"c","requester":"bot","callback_url":"http://localhost:5678/webhook-waiting/1"}`, nil)
	assert.Equal(t, http.StatusCreated, status, "n8n on another local port is fine: %s", raw)
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	TuneGC()
	assert.Equal(t, GCPercent, debug.SetGCPercent(100), "the stack's default")
	t.Setenv("GOGC", "50")
	TuneGC()
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC, when set, is left alone")
}

// Configurations that cannot work are refused whole, before anything starts.
func TestConfigErrors(t *testing.T) {
	for name, extra := range map[string]map[string]string{
		"remote without a token": {"UPSTASH_REDIS_REST_URL": "https://x.upstash.io"},
		"remote and REDIS_URL":   {"UPSTASH_REDIS_REST_URL": "https://x.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "t", "REDIS_URL": "redis://127.0.0.1:1/0"},
		"a bad duration":         {"LOCAL_READ_TIMEOUT": "soon"},
		"a bad setting":          {"ALLOW_SELF_APPROVAL": "maybe"},
	} {
		_, err := ReadConfig(config.MapLookup(testEnv(t, extra)))
		assert.Error(t, err, name)
	}
	env := testEnv(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(env["DATA_DIR"], "secrets.json"), []byte("{not json"), 0o600))
	_, err := ReadConfig(config.MapLookup(env))
	assert.ErrorContains(t, err, "secrets.json", "a damaged secrets file is reported, not replaced")
}

// A store that cannot start stops the stack with its reason, and frees the
// API's port.
func TestStartFailsCleanly(t *testing.T) {
	env := testEnv(t, nil)
	cfg, err := ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, "store.snapshot"), []byte("damaged"), 0o600))
	_, err = Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "snapshot")

	env["LOCAL_REST_ADDR"] = "256.0.0.1:1"
	cfg, err = ReadConfig(config.MapLookup(env))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(cfg.DataDir, "store.snapshot")))
	_, err = Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "LOCAL_REST_ADDR")
}

// syncBuffer is a log the stack's background loop and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The stack sweeps and backs up on its intervals, and a backup that fails
// (here, BACKUP_DIR is a file) is logged and tried again next time, without
// stopping the stack.
func TestBackgroundBackupsAndSweeps(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	for name, c := range map[string]struct {
		dir, want string
	}{
		"written": {t.TempDir(), `"msg":"local backup written"`},
		"failed":  {blocker, `"msg":"local backup"`},
	} {
		cfg, err := ReadConfig(config.MapLookup(testEnv(t, map[string]string{
			"SWEEP_INTERVAL": "20ms", "BACKUP_INTERVAL": "20ms", "BACKUP_DIR": c.dir})))
		require.NoError(t, err)
		var logs syncBuffer
		s, err := Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(&logs, nil)))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), c.want) }, 5*time.Second, 10*time.Millisecond, name)
		status, _ := getHealth(t, s, cfg.APIKey)
		assert.Equal(t, http.StatusOK, status, "%s: the stack still serves", name)
		require.NoError(t, s.Shutdown(context.Background()))
	}
}

// TestPprof: LOCAL_PPROF_ADDR serves the profiles on a listener of its own,
// named in the banner, and the stack's shutdown closes it; without it, no
// profile is served.
func TestPprof(t *testing.T) {
	s, cfg, banner := startStack(t, testEnv(t, map[string]string{"LOCAL_PPROF_ADDR": "127.0.0.1:0"}))
	require.NotEmpty(t, s.PprofURL)
	assert.Contains(t, banner, s.PprofURL+"/debug/pprof/")
	resp, err := http.Get(s.PprofURL + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine profile")
	status, _ := apiCall(t, s, cfg.APIKey, "GET", "/debug/pprof/", "", nil)
	assert.Equal(t, http.StatusNotFound, status, "the API does not serve the profiles")
	require.NoError(t, s.Shutdown(context.Background()))
	_, err = http.Get(s.PprofURL + "/debug/pprof/")
	assert.Error(t, err, "closed with the stack")

	plain, _, banner := startStack(t, testEnv(t, nil))
	assert.Empty(t, plain.PprofURL)
	assert.NotContains(t, banner, "pprof")
}

// API_KEYS adds clients: the banner names each with its scopes and never
// its key, and each key reaches only its scopes.
func TestClientsFromAPIKeys(t *testing.T) {
	keys := `[{"name":"agent","key":"agent-key-0123456789","scopes":["read","write","mcp"]},{"name":"n8n","keys":["n8n-old-0123456789","n8n-new-0123456789"],"scopes":["*"]}]`
	s, _, banner := startStack(t, testEnv(t, map[string]string{"API_KEYS": keys}))
	assert.Contains(t, banner, "client         agent: read, write, mcp (key in API_KEYS)")
	assert.Contains(t, banner, "client         n8n: * (key in API_KEYS)")
	for _, k := range []string{"agent-key-0123456789", "n8n-old-0123456789", "n8n-new-0123456789"} {
		assert.NotContains(t, banner, k)
	}
	call := func(key, method, path, body string) int {
		req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("x-api-key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusCreated, call("agent-key-0123456789", "POST", "/api/workflow/state", `{"workflow_id":"ABC-123456","feature_description":"x"}`))
	assert.Equal(t, http.StatusForbidden, call("agent-key-0123456789", "POST", "/api/approval/3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c/decision", `{"decision":"approved","approver":"a"}`))
	for _, k := range []string{"n8n-old-0123456789", "n8n-new-0123456789"} {
		assert.Equal(t, http.StatusOK, call(k, "GET", "/api/workflow/state/ABC-123456", ""), "both keys while one is rotated")
	}

	cfg, err := ReadConfig(config.MapLookup(testEnv(t, map[string]string{"API_KEYS": `[{"name":"x","key":"short","scopes":["read"]}]`})))
	if err == nil {
		_, err = Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	}
	require.Error(t, err, "a key that is too short stops the stack")
	assert.NotContains(t, err.Error(), "short", "no key in the error")
}
