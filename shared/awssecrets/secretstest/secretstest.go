// Package secretstest serves the Secrets Manager GetSecretValue call over
// the real AWS JSON protocol, and checks each request's SigV4 signature
// with the SDK's signer, for tests of the code that fetches secrets.
package secretstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The credentials the server checks signatures with, which Start sets in
// the environment.
const (
	AccessKeyID     = "AKIDSECRETSTEST"
	SecretAccessKey = "secretstest-secret-access-key"
)

// Server answers GetSecretValue from Secrets (id to value); unknown ids get
// ResourceNotFoundException, and a request whose signature does not verify
// gets InvalidSignatureException.
type Server struct {
	*httptest.Server
	Secrets map[string]string
	// Fail, if it returns a status for the n-th request (from 1), answers
	// that status with an error body instead.
	Fail func(n int64) int
	// Requests counts the requests served; Region holds the last signed one's region.
	Requests atomic.Int64
	Region   atomic.Value
}

// Start starts a Server, closed when the test ends, and points the
// environment at it: AWS_ENDPOINT_URL_SECRETS_MANAGER, the credentials
// (with a session token, as Lambda has) and AWS_REGION. It also clears
// AWS_CA_BUNDLE, which breaks the SDK's config loading on some machines.
func Start(tb testing.TB, secrets map[string]string) *Server {
	tb.Helper()
	s := &Server{Secrets: secrets}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	tb.Setenv("AWS_CA_BUNDLE", "")
	tb.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s.URL)
	tb.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	tb.Setenv("AWS_SECRET_ACCESS_KEY", SecretAccessKey)
	tb.Setenv("AWS_SESSION_TOKEN", "secretstest-session")
	tb.Setenv("AWS_REGION", "eu-west-1")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.Requests.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, typ, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	body, _ := io.ReadAll(r.Body)
	if s.Fail != nil {
		if status := s.Fail(n); status != 0 {
			fail(status, "InternalServiceError", "injected")
			return
		}
	}
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		fail(http.StatusBadRequest, "InvalidRequestException", "unknown call")
		return
	}
	region, err := verify(r, body)
	if err != nil {
		fail(http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	s.Region.Store(region)
	var in struct{ SecretId string }
	_ = json.Unmarshal(body, &in)
	v, ok := s.Secrets[in.SecretId]
	if !ok {
		fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v})
}

// verify signs a copy of the request, with the headers it says it signed,
// its date and its scope, with the SDK's signer and the known credentials,
// and compares the signatures. It returns the scope's region.
func verify(r *http.Request, body []byte) (string, error) {
	auth := r.Header.Get("Authorization")
	fields := map[string]string{}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", fmt.Errorf("not a SigV4 Authorization header")
	}
	for f := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/date/region/service/aws4_request
	if len(scope) != 5 || scope[0] != AccessKeyID || scope[3] != "secretsmanager" {
		return "", fmt.Errorf("credential scope %q", fields["Credential"])
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fmt.Errorf("X-Amz-Date: %w", err)
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return "", fmt.Errorf("signed at %s, too far from now", at)
	}
	cp, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for h := range strings.SplitSeq(fields["SignedHeaders"], ";") {
		if h != "host" && h != "x-amz-security-token" && h != "x-amz-date" {
			cp.Header.Set(h, r.Header.Get(h))
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), "secretsmanager", scope[2], at); err != nil {
		return "", err
	}
	if cp.Header.Get("Authorization") != auth {
		return "", fmt.Errorf("the signature does not match")
	}
	return scope[2], nil
}
