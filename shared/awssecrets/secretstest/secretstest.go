// Package secretstest serves the Secrets Manager GetSecretValue call over
// the real AWS JSON protocol, for tests that drive the real SDK against it.
package secretstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Server answers GetSecretValue from Secrets (id to value); unknown ids get
// ResourceNotFoundException. Requests must be signed.
type Server struct {
	*httptest.Server
	Secrets map[string]string
}

// Start starts a Server; it is closed when the test ends. It also clears
// AWS_CA_BUNDLE, which breaks the SDK's config loading on some machines.
func Start(tb testing.TB, secrets map[string]string) *Server {
	tb.Helper()
	s := &Server{Secrets: secrets}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	tb.Setenv("AWS_CA_BUNDLE", "")
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"InvalidRequestException","message":"unsigned or unknown call"}`)
		return
	}
	var in struct{ SecretId string }
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	v, ok := s.Secrets[in.SecretId]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v})
}
