package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is every setting of the service, read once from the environment
// at cold start. Each field says its variable and its default; the defaults
// are here and nowhere else.
type Config struct {
	// Store is how the service reaches Upstash.
	Store Store
	// Approvals are the approval rules and webhook settings.
	Approvals Approvals
	// LogLevel is LOG_LEVEL: debug, info (the default), warn or error.
	LogLevel string
	// MetricsFlushInterval is METRICS_FLUSH_INTERVAL, default 5s: how often
	// the request counters ride along with a store call.
	MetricsFlushInterval time.Duration
	// APIKey is API_KEY: when set, the service checks x-api-key itself (the
	// local stack; in AWS, API Gateway checks it).
	APIKey string
	// APIKeys is API_KEYS: more clients, each with its keys and scopes, as
	// JSON [{"name", "key" (or "keys", two while rotating), "scopes"}]
	// (package access). The local stack reads it; keys are never printed.
	APIKeys string
	// APIClients is API_CLIENTS, which the CDK stack sets in AWS: the
	// clients by the id of their API Gateway key, as JSON [{"key_id",
	// "name", "scopes"}]. Unset in AWS, every key API Gateway accepts has
	// every scope.
	APIClients string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME, which Lambda sets; it names
	// the function in metrics.
	FunctionName string
	// Backup is where scheduled backups go.
	Backup Backup
	// Restore are the restore command's switches.
	Restore Restore
	// Memory is the failure memory: its vector index and flaky rules.
	Memory Memory
}

// Memory is the failure memory's settings.
type Memory struct {
	// VectorURL is UPSTASH_VECTOR_REST_URL, the Upstash Vector index of
	// failures. Unset: no index; similar failures answer 503, and new
	// fingerprints are not queued for one.
	VectorURL string
	// VectorToken is UPSTASH_VECTOR_REST_TOKEN, for local runs; in AWS it
	// is empty, and VectorTokenSecretARN
	// (UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN) names its secret.
	VectorToken          string
	VectorTokenSecretARN string
	// Embedding is VECTOR_EMBEDDING: local (the default: in process, 512
	// dimensions, cosine) or upstash (the index's own embedding model).
	Embedding string
	// FlakyMinRuns is FLAKY_MIN_RUNS, default 10 (2 to 50): the fewest runs
	// the flip-rate rule judges.
	FlakyMinRuns int
	// FlakyFlipRate is FLAKY_FLIP_RATE, default 0.2 (over 0, at most 1):
	// the flip rate at which a test without commits is flaky.
	FlakyFlipRate float64
}

// String describes the settings without the token.
func (m Memory) String() string {
	return fmt.Sprintf("config.Memory{VectorURL: %q, VectorToken: %s, VectorTokenSecretARN: %q, Embedding: %q}", m.VectorURL, redacted(m.VectorToken), m.VectorTokenSecretARN, m.Embedding)
}

// GoString is String, so %#v hides the token too.
func (m Memory) GoString() string { return m.String() }

// readMemory reads the failure memory's settings.
func readMemory(e *Env) Memory {
	m := Memory{
		VectorURL:            e.String("UPSTASH_VECTOR_REST_URL", ""),
		VectorToken:          e.String("UPSTASH_VECTOR_REST_TOKEN", ""),
		VectorTokenSecretARN: e.String("UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN", ""),
		Embedding:            e.String("VECTOR_EMBEDDING", "local"),
		FlakyMinRuns:         e.Int("FLAKY_MIN_RUNS", 10, 2, 50),
		FlakyFlipRate:        e.Float("FLAKY_FLIP_RATE", 0.2, 0, 1),
	}
	if m.Embedding != "local" && m.Embedding != "upstash" {
		e.Fail(fmt.Errorf("VECTOR_EMBEDDING=%q: want local or upstash", m.Embedding))
	}
	if m.VectorURL != "" && m.VectorToken == "" && m.VectorTokenSecretARN == "" {
		e.Fail(errors.New("UPSTASH_VECTOR_REST_URL is set: set UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN (in AWS) or UPSTASH_VECTOR_REST_TOKEN (locally) too"))
	}
	return m
}

// Backup is where the sweeper's scheduled backup goes.
type Backup struct {
	// Bucket is BACKUP_BUCKET, and Prefix BACKUP_PREFIX (default
	// "backups"): the S3 location in AWS.
	Bucket, Prefix string
	// Dir is BACKUP_DIR: a folder, which wins over the bucket (sam local,
	// the emulator, the local stack).
	Dir string
	// S3PathStyle is BACKUP_S3_PATH_STYLE, default false: path-style S3
	// addressing, for S3-compatible servers.
	S3PathStyle bool
}

// Location is where a scheduled backup goes: Dir, else
// s3://Bucket/Prefix, else "".
func (b Backup) Location() string {
	switch {
	case b.Dir != "":
		return b.Dir
	case b.Bucket != "":
		return "s3://" + b.Bucket + "/" + strings.Trim(b.Prefix, "/")
	}
	return ""
}

// Restore are the restore command's switches.
type Restore struct {
	Force  bool // FORCE, default false: overwrite keys that exist
	DryRun bool // DRY_RUN, default false: write nothing
}

// Read reads the whole configuration. local is true for the local stack,
// where ALLOW_INSECURE_CALLBACKS defaults to true. The store's URL and
// token are not required here: the local stack makes its own; Validate
// checks them before use.
func Read(lookup func(string) (string, bool), local bool) (Config, error) {
	e := NewEnv(lookup)
	c := Config{
		Store: Store{
			URL:            e.String("UPSTASH_REDIS_REST_URL", ""),
			Token:          e.String("UPSTASH_REDIS_REST_TOKEN", ""),
			TokenSecretARN: e.String("UPSTASH_REDIS_REST_TOKEN_SECRET_ARN", ""),
			KeyPrefix:      e.String("KEY_PREFIX", ""),
		},
		Approvals:            ReadApprovals(e, local),
		LogLevel:             e.String("LOG_LEVEL", "info"),
		MetricsFlushInterval: e.Duration("METRICS_FLUSH_INTERVAL", 5*time.Second),
		APIKey:               e.String("API_KEY", ""),
		APIKeys:              e.String("API_KEYS", ""),
		APIClients:           e.String("API_CLIENTS", ""),
		FunctionName:         e.String("AWS_LAMBDA_FUNCTION_NAME", ""),
		Backup: Backup{
			Bucket:      e.String("BACKUP_BUCKET", ""),
			Prefix:      e.String("BACKUP_PREFIX", "backups"),
			Dir:         e.String("BACKUP_DIR", ""),
			S3PathStyle: e.Bool("BACKUP_S3_PATH_STYLE", false),
		},
		Restore: Restore{Force: e.Bool("FORCE", false), DryRun: e.Bool("DRY_RUN", false)},
		Memory:  readMemory(e),
	}
	return c, e.Err()
}

// Validate checks what a service needs to start: the store's URL, and its
// token or the token's secret; with webhooks, their signing secret or its
// secret.
func (c Config) Validate(webhooks bool) error {
	var errs []error
	if c.Store.URL == "" {
		errs = append(errs, errors.New("UPSTASH_REDIS_REST_URL is required"))
	}
	if c.Store.Token == "" && c.Store.TokenSecretARN == "" {
		errs = append(errs, errors.New("set UPSTASH_REDIS_REST_TOKEN_SECRET_ARN (in AWS) or UPSTASH_REDIS_REST_TOKEN (locally)"))
	}
	if webhooks && c.Approvals.WebhookSecret == "" && c.Approvals.WebhookSecretARN == "" {
		errs = append(errs, errors.New("set WEBHOOK_SECRET_SECRET_ARN (in AWS) or WEBHOOK_SECRET (locally): approval webhooks are signed"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return nil
}
