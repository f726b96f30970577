package webhook_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/webhook"
)

// TestStandardWebhooks: every delivery is also signed by the Standard
// Webhooks specification, which the official standardwebhooks library
// (scripts/webhook-check) verifies, as a receiver would, with the secret
// written as "whsec_" and the base64 of WEBHOOK_SECRET; a tampered body, a
// replay under another id, or a stale timestamp is refused.
func TestStandardWebhooks(t *testing.T) {
	dir := webhookCheck(t, "standardwebhooks")
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	body := []byte(`{"approval_id":"3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c","event":"approval.decided","status":"approved"}`)
	d := webhook.NewDeliverer(webhook.Options{Secret: secret, Guard: &webhook.Guard{AllowInsecureLoopback: true}})
	attempts := d.Deliver(context.Background(), webhook.Delivery{ID: "dlv-42", Event: "approval.decided", URL: srv.URL, Body: body})
	require.True(t, attempts[0].Delivered)
	got := rc.got[0].Header
	assert.Equal(t, "dlv-42", got.Get(webhook.HeaderWebhookID), "the delivery id, the same across retries")
	ts, err := strconv.ParseInt(got.Get(webhook.HeaderWebhookTimestamp), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, time.Now().Unix(), ts, 60)
	assert.True(t, strings.HasPrefix(got.Get(webhook.HeaderWebhookSignature), "v1,"))
	assert.NotEmpty(t, got.Get(webhook.HeaderSignature), "the old header stays for one release")
	assert.Empty(t, got.Get("Authorization"), "no JWT without CALLBACK_JWT_SECRET")

	verify := func(headers map[string]string, payload string) (string, error) {
		return runNode(dir, "verify.mjs", map[string]any{"secret": webhook.StandardSecret(secret), "headers": headers, "body": payload})
	}
	headers := map[string]string{"webhook-id": got.Get("webhook-id"), "webhook-timestamp": got.Get("webhook-timestamp"),
		"webhook-signature": got.Get("webhook-signature")}
	out, err := verify(headers, string(rc.bodies[0]))
	require.NoError(t, err, out)
	assert.Equal(t, "ok approval.decided", out)

	_, err = verify(headers, strings.Replace(string(rc.bodies[0]), "approved", "rejected", 1))
	assert.Error(t, err, "a tampered body")
	replay := map[string]string{"webhook-id": "dlv-other", "webhook-timestamp": headers["webhook-timestamp"], "webhook-signature": headers["webhook-signature"]}
	_, err = verify(replay, string(rc.bodies[0]))
	assert.Error(t, err, "the signature under another delivery id")
	old := time.Now().Add(-time.Hour).Unix()
	stale := map[string]string{"webhook-id": "dlv-42", "webhook-timestamp": strconv.FormatInt(old, 10),
		"webhook-signature": webhook.SignStandard(secret, "dlv-42", old, rc.bodies[0])}
	out, err = verify(stale, string(rc.bodies[0]))
	assert.Error(t, err, "a validly signed but stale delivery: %s", out)
}

// TestCallbackJWT: with a JWT secret, every attempt carries Authorization:
// Bearer and an HS256 JWT that jsonwebtoken (as n8n's Wait node uses it)
// accepts, with the approval as sub and the event; a tampered or expired
// one, or one under another secret, is refused.
func TestCallbackJWT(t *testing.T) {
	dir := webhookCheck(t, "jsonwebtoken")
	jwtSecret := []byte("callback-jwt-secret-0123456789")
	rc := &receiver{statuses: []int{500, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	d := webhook.NewDeliverer(webhook.Options{Secret: secret, JWTSecret: jwtSecret, Guard: &webhook.Guard{AllowInsecureLoopback: true},
		Backoff: 10 * time.Millisecond})
	attempts := d.Deliver(context.Background(), webhook.Delivery{ID: "dlv-7", Event: "approval.decided", URL: srv.URL,
		Body: []byte(`{}`), Subject: "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c"})
	require.Len(t, attempts, 2)
	check := func(sec, token string) (string, error) {
		return runNode(dir, "jwt.mjs", map[string]any{"secret": sec, "token": token})
	}
	var tokens []string
	for _, r := range rc.got {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		require.True(t, ok)
		tokens = append(tokens, token)
		out, err := check(string(jwtSecret), token)
		require.NoError(t, err, out)
		var claims map[string]any
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(out, "ok ")), &claims))
		assert.Equal(t, "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", claims["sub"])
		assert.Equal(t, "approval.decided", claims["event"])
		assert.Equal(t, "dlv-7", claims["jti"])
		assert.InDelta(t, webhook.JWTTTL.Seconds(), claims["exp"].(float64)-claims["iat"].(float64), 1)
	}
	assert.Len(t, tokens, 2, "a token for each attempt")

	_, err := check("another-secret-0123456789", tokens[0])
	assert.Error(t, err, "under another secret")
	parts := strings.Split(tokens[0], ".")
	_, err = check(string(jwtSecret), parts[0]+"."+parts[1]+"x."+parts[2])
	assert.Error(t, err, "tampered")
	expired := webhook.MintJWT(jwtSecret, webhook.Delivery{ID: "dlv-7", Event: "approval.decided"}, time.Now().Add(-time.Hour))
	out, err := check(string(jwtSecret), expired)
	assert.Error(t, err, "expired: %s", out)
}

// webhookCheck is scripts/webhook-check, where the receivers' libraries
// are: it needs node and the module; without them the test fails under CI
// and is skipped elsewhere.
func webhookCheck(t *testing.T, module string) string {
	t.Helper()
	dir, err := filepath.Abs("../../scripts/webhook-check")
	require.NoError(t, err)
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", module))
	if nodeErr != nil || modErr != nil {
		msg := "node and " + module + " are needed: run npm ci --prefix scripts/webhook-check (make test does)"
		if redistest.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// runNode runs a script of dir with in as JSON on its stdin, and answers
// its output.
func runNode(dir, script string, in any) (string, error) {
	raw, _ := json.Marshal(in)
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(raw))
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
