package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/config"
)

func env(m map[string]string) *config.Env { return config.NewEnv(config.MapLookup(m)) }

func TestTypedReads(t *testing.T) {
	e := env(map[string]string{"S": " v ", "B": "true", "D": "90s", "I": "7", "EMPTY": ""})
	assert.Equal(t, "v", e.String("S", "d"))
	assert.Equal(t, "d", e.String("EMPTY", "d"), "empty means unset")
	assert.True(t, e.Bool("B", false))
	assert.True(t, e.Bool("NOPE", true))
	assert.Equal(t, 90*time.Second, e.Duration("D", time.Second))
	assert.Equal(t, time.Second, e.Duration("NOPE", time.Second))
	assert.Equal(t, 7, e.Int("I", 1, 1, 10))
	assert.Equal(t, 3, e.Int("NOPE", 3, 1, 10))
	assert.NoError(t, e.Err())

	bad := env(map[string]string{"B": "yes please", "D": "-1s", "I": "11", "J": "x"})
	bad.Bool("B", false)
	bad.Duration("D", time.Second)
	bad.Int("I", 1, 1, 10)
	bad.Int("J", 1, 1, 10)
	err := bad.Err()
	assert.ErrorContains(t, err, `B="yes please"`)
	assert.ErrorContains(t, err, `D="-1s"`)
	assert.ErrorContains(t, err, `I="11"`)
	assert.ErrorContains(t, err, `J="x"`)
}

func TestReadStore(t *testing.T) {
	e := env(map[string]string{"UPSTASH_REDIS_REST_URL": "https://x.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "s3cret", "KEY_PREFIX": "p_"})
	s := config.ReadStore(e)
	assert.NoError(t, e.Err())
	assert.Equal(t, "https://x.upstash.io", s.URL)
	assert.Equal(t, "p_", s.KeyPrefix)
	printed := fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	assert.NotContains(t, printed, "s3cret")
	assert.Contains(t, printed, "<redacted>")

	e = env(map[string]string{})
	s = config.ReadStore(e)
	assert.ErrorContains(t, e.Err(), "UPSTASH_REDIS_REST_URL is required")
	assert.ErrorContains(t, e.Err(), "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN")
	assert.Contains(t, s.String(), "<unset>")

	e = env(map[string]string{"UPSTASH_REDIS_REST_URL": "https://x", "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:t"})
	config.ReadStore(e)
	assert.NoError(t, e.Err())
}

// A scheduled backup goes to BACKUP_DIR when it is set, else to S3, else
// nowhere.
func TestBackupLocation(t *testing.T) {
	for want, b := range map[string]config.Backup{
		"/var/backups":        {Dir: "/var/backups", Bucket: "b"},
		"s3://b/prod/backups": {Bucket: "b", Prefix: "/prod/backups/"},
		"":                    {},
	} {
		assert.Equal(t, want, b.Location())
	}
}

func TestReadApprovals(t *testing.T) {
	e := env(map[string]string{"ALLOW_SELF_APPROVAL": "true", "APPROVAL_RETENTION_HOURS": "24", "WEBHOOK_SECRET": "whsec",
		"CALLBACK_HOST_ALLOWLIST": " n8n.example.com, ,hooks.example.org ", "WEBHOOK_BUDGET": "500ms"})
	a := config.ReadApprovals(e, false)
	assert.NoError(t, e.Err())
	assert.True(t, a.AllowSelfApproval)
	assert.Equal(t, 24, a.RetentionHours)
	assert.False(t, a.AllowInsecureCallbacks)
	assert.Equal(t, []string{"n8n.example.com", "hooks.example.org"}, a.CallbackHostAllowlist)
	assert.Equal(t, 500*time.Millisecond, a.WebhookBudget)
	assert.NotContains(t, fmt.Sprintf("%v %#v", a, a), "whsec")

	d := config.ReadApprovals(env(map[string]string{}), true)
	assert.Equal(t, 168, d.RetentionHours)
	assert.True(t, d.AllowInsecureCallbacks)
	assert.Contains(t, d.String(), "<unset>")
}

func TestMemorySettings(t *testing.T) {
	c, err := config.Read(config.MapLookup(map[string]string{"UPSTASH_VECTOR_REST_URL": "https://v.upstash.io", "UPSTASH_VECTOR_REST_TOKEN": "vsecret",
		"VECTOR_EMBEDDING": "upstash", "FLAKY_MIN_RUNS": "5", "FLAKY_FLIP_RATE": "0.5"}), false)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Memory; m.Embedding != "upstash" || m.FlakyMinRuns != 5 || m.FlakyFlipRate != 0.5 || m.VectorToken != "vsecret" {
		t.Fatalf("%+v", m)
	}
	if s := fmt.Sprintf("%v %#v %s", c.Memory, c.Memory, c.Memory); strings.Contains(s, "vsecret") {
		t.Fatalf("the token is printed: %s", s)
	}
	c, _ = config.Read(config.MapLookup(map[string]string{}), false)
	if c.Memory.FlakyMinRuns != 10 || c.Memory.FlakyFlipRate != 0.2 || c.Memory.Embedding != "local" {
		t.Fatalf("defaults %+v", c.Memory)
	}
	for _, bad := range []map[string]string{
		{"VECTOR_EMBEDDING": "openai"}, {"FLAKY_MIN_RUNS": "1"}, {"FLAKY_FLIP_RATE": "0"}, {"FLAKY_FLIP_RATE": "1.5"},
		{"FLAKY_FLIP_RATE": "x"}, {"UPSTASH_VECTOR_REST_URL": "https://v.upstash.io"},
	} {
		if _, err := config.Read(config.MapLookup(bad), false); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
