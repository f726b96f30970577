package localstack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/embedded"
	"github.com/ai-rails/state-service/shared/httpkit"
)

// Config is the local stack's configuration, read from the environment:
// the service's own settings (config.Config, read as every entry point
// reads them), and the stack's.
type Config struct {
	// Service is the service's configuration. Its store is the stack's REST
	// endpoint, unless UPSTASH_REDIS_REST_URL names a remote Upstash; its
	// API key and webhook secret are the stack's, generated if not set; and
	// ALLOW_INSECURE_CALLBACKS defaults to true, so that approvals may call
	// back to http://localhost.
	Service config.Config

	Addr      string // LOCAL_ADDR: the API
	RESTAddr  string // LOCAL_REST_ADDR: the Upstash-compatible REST endpoint
	RESTToken string // LOCAL_REST_TOKEN
	// VectorAddr (LOCAL_VECTOR_ADDR) is the Upstash-Vector-compatible
	// endpoint of the failure memory, and VectorToken (LOCAL_VECTOR_TOKEN)
	// its token; unused when UPSTASH_VECTOR_REST_URL names a remote index.
	VectorAddr  string
	VectorToken string
	APIKey      string // API_KEY
	// WebhookSecret signs approval webhooks (WEBHOOK_SECRET).
	WebhookSecret string
	// LinkSecret keys approvers' links (APPROVAL_LINK_SECRET).
	LinkSecret string
	// CallbackJWTSecret signs the JWT every webhook carries
	// (CALLBACK_JWT_SECRET), which n8n's Wait node checks.
	CallbackJWTSecret string
	DataDir           string // DATA_DIR
	// Fsync is LOCAL_FSYNC, the embedded store's journal policy: "always"
	// (the default: fsync before every answer) or "everysec".
	Fsync          embedded.Fsync
	SweepInterval  time.Duration // SWEEP_INTERVAL
	BackupDir      string        // BACKUP_DIR, default DATA_DIR/backups
	BackupInterval time.Duration // BACKUP_INTERVAL, default 1h
	RedisURL       string        // REDIS_URL: a real Redis instead of the embedded one
	// PprofAddr (LOCAL_PPROF_ADDR) serves net/http/pprof's profiles when
	// set; make bench profiles the API through it. Off by default.
	PprofAddr string

	// Timeouts are the servers' limits on slow clients: LOCAL_READ_TIMEOUT,
	// LOCAL_WRITE_TIMEOUT and LOCAL_IDLE_TIMEOUT (httpkit.DefaultTimeouts).
	Timeouts httpkit.Timeouts

	// Generated names the secrets that were generated rather than set.
	Generated []string
}

// ReadConfig reads the configuration. Secrets that are not set are taken from
// DATA_DIR/secrets.json, or generated and saved there, so that the API key
// stays the same across restarts.
func ReadConfig(lookup func(string) (string, bool)) (Config, error) {
	e := config.NewEnv(lookup)
	c := Config{
		Addr:              e.String("LOCAL_ADDR", "127.0.0.1:3000"),
		RESTAddr:          e.String("LOCAL_REST_ADDR", "127.0.0.1:8079"),
		RESTToken:         e.String("LOCAL_REST_TOKEN", ""),
		VectorAddr:        e.String("LOCAL_VECTOR_ADDR", "127.0.0.1:8078"),
		VectorToken:       e.String("LOCAL_VECTOR_TOKEN", ""),
		APIKey:            e.String("API_KEY", ""),
		WebhookSecret:     e.String("WEBHOOK_SECRET", ""),
		LinkSecret:        e.String("APPROVAL_LINK_SECRET", ""),
		CallbackJWTSecret: e.String("CALLBACK_JWT_SECRET", ""),
		DataDir:           e.String("DATA_DIR", "./.data"),
		SweepInterval:     e.Duration("SWEEP_INTERVAL", 60*time.Second),
		BackupInterval:    e.Duration("BACKUP_INTERVAL", time.Hour),
		RedisURL:          e.String("REDIS_URL", ""),
		PprofAddr:         e.String("LOCAL_PPROF_ADDR", ""),
		Timeouts: httpkit.Timeouts{
			ReadHeader: httpkit.DefaultTimeouts.ReadHeader,
			Read:       e.Duration("LOCAL_READ_TIMEOUT", httpkit.DefaultTimeouts.Read),
			Write:      e.Duration("LOCAL_WRITE_TIMEOUT", httpkit.DefaultTimeouts.Write),
			Idle:       e.Duration("LOCAL_IDLE_TIMEOUT", httpkit.DefaultTimeouts.Idle),
		},
	}
	fsync, err := embedded.ParseFsync(e.String("LOCAL_FSYNC", ""))
	if err != nil {
		e.Fail(fmt.Errorf("LOCAL_FSYNC: %w", err))
	}
	c.Fsync = fsync
	svc, err := config.Read(lookup, true)
	if err != nil {
		e.Fail(err)
	}
	c.Service = svc
	if c.Remote() && svc.Store.Token == "" {
		e.Fail(errors.New("UPSTASH_REDIS_REST_URL is set, so UPSTASH_REDIS_REST_TOKEN is required"))
	}
	if svc.Memory.VectorURL != "" && svc.Memory.VectorToken == "" {
		e.Fail(errors.New("UPSTASH_VECTOR_REST_URL is set, so UPSTASH_VECTOR_REST_TOKEN is required"))
	}
	if c.Remote() && c.RedisURL != "" {
		e.Fail(errors.New("set REDIS_URL or UPSTASH_REDIS_REST_URL, not both"))
	}
	if err := e.Err(); err != nil {
		return Config{}, err
	}
	if err := c.fillSecrets(); err != nil {
		return Config{}, err
	}
	c.Service.APIKey, c.Service.Approvals.WebhookSecret, c.Service.Approvals.LinkSecret = c.APIKey, c.WebhookSecret, c.LinkSecret
	c.Service.Approvals.CallbackJWTSecret = c.CallbackJWTSecret
	if c.Service.Approvals.PublicBaseURL == "" {
		c.Service.Approvals.PublicBaseURL = "http://" + c.Addr
	}
	c.BackupDir = config.NewEnv(lookup).String("BACKUP_DIR", filepath.Join(c.DataDir, "backups"))
	return c, nil
}

// RemoteVector reports whether the failure memory uses a remote Upstash
// Vector index (UPSTASH_VECTOR_REST_URL) rather than the stack's own.
func (c Config) RemoteVector() bool { return c.Service.Memory.VectorURL != "" }

// Remote reports whether the stack uses a remote Upstash
// (UPSTASH_REDIS_REST_URL) rather than a store of its own.
func (c Config) Remote() bool { return c.Service.Store.URL != "" }

// savedSecrets is DATA_DIR/secrets.json.
type savedSecrets struct {
	APIKey        string `json:"api_key"`
	RESTToken     string `json:"rest_token"`
	WebhookSecret string `json:"webhook_secret"`
	LinkSecret    string `json:"approval_link_secret,omitempty"`
	VectorToken   string `json:"vector_token,omitempty"`
	CallbackJWT   string `json:"callback_jwt_secret,omitempty"`
}

func (c *Config) fillSecrets() error {
	path := filepath.Join(c.DataDir, "secrets.json")
	var saved savedSecrets
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	changed := false
	for _, s := range []struct {
		name  string
		value *string
		saved *string
	}{
		{"API_KEY", &c.APIKey, &saved.APIKey},
		{"LOCAL_REST_TOKEN", &c.RESTToken, &saved.RESTToken},
		{"WEBHOOK_SECRET", &c.WebhookSecret, &saved.WebhookSecret},
		{"APPROVAL_LINK_SECRET", &c.LinkSecret, &saved.LinkSecret},
		{"LOCAL_VECTOR_TOKEN", &c.VectorToken, &saved.VectorToken},
		{"CALLBACK_JWT_SECRET", &c.CallbackJWTSecret, &saved.CallbackJWT},
	} {
		if *s.value != "" {
			continue
		}
		if *s.saved == "" {
			*s.saved = randomHex(24)
			changed = true
		}
		*s.value = *s.saved
		c.Generated = append(c.Generated, s.name)
	}
	if !changed {
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create DATA_DIR: %w", err)
	}
	b, _ := json.MarshalIndent(saved, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
