package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

var ctx = context.Background()

func envFor(b *upstashtest.Backend, extra map[string]string) func(string) (string, bool) {
	m := map[string]string{"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token,
		"WEBHOOK_SECRET": "s", "ALLOW_INSECURE_CALLBACKS": "true", "LOG_LEVEL": "error"}
	for k, v := range extra {
		m[k] = v
	}
	return config.MapLookup(m)
}

func TestCLIBackupAndRestore(t *testing.T) {
	from, to := upstashtest.Real(t), upstashtest.Mini(t)
	src := from.Client(t, upstash.Options{})
	for _, cmd := range [][]any{{"SET", "ai_rails_a", "1", "PX", 600000}, {"HSET", "ai_rails_h", "f", "v"}, {"SADD", "ai_rails_s", "m"}} {
		_, err := src.Do(ctx, cmd...)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	require.NoError(t, cli(ctx, []string{"backup", dir}, envFor(from, nil), &out, &errOut), errOut.String())
	loc := strings.TrimSpace(out.String())
	assert.True(t, strings.HasPrefix(loc, dir), loc)
	_, err := os.Stat(loc)
	require.NoError(t, err)

	out.Reset()
	require.NoError(t, cli(ctx, []string{"restore", loc}, envFor(to, map[string]string{"DRY_RUN": "1"}), &out, &errOut))
	assert.Equal(t, "dry run: 3 keys: 3 restored, 0 skipped as expired, 0 skipped as existing\n", out.String())
	dst := to.Client(t, upstash.Options{})
	n, _ := upstash.Int64(dst.Do(ctx, "DBSIZE"))
	assert.Zero(t, n)

	out.Reset()
	require.NoError(t, cli(ctx, []string{"restore", loc}, envFor(to, nil), &out, &errOut))
	assert.Equal(t, "3 keys: 3 restored, 0 skipped as expired, 0 skipped as existing\n", out.String())
	out.Reset()
	require.NoError(t, cli(ctx, []string{"restore", loc}, envFor(to, nil), &out, &errOut))
	assert.Equal(t, "3 keys: 0 restored, 0 skipped as expired, 3 skipped as existing\n", out.String())
	out.Reset()
	require.NoError(t, cli(ctx, []string{"restore", loc}, envFor(to, map[string]string{"FORCE": "1"}), &out, &errOut))
	assert.Equal(t, "3 keys: 3 restored, 0 skipped as expired, 0 skipped as existing\n", out.String())
	v, _ := upstash.String(dst.Do(ctx, "GET", "ai_rails_a"))
	assert.Equal(t, "1", v)

	// A corrupt file is refused, and the summary says nothing was restored.
	bad := filepath.Join(dir, "bad.jsonl.gz")
	require.NoError(t, os.WriteFile(bad, []byte("not gzip"), 0o600))
	out.Reset()
	err = cli(ctx, []string{"restore", bad}, envFor(to, nil), &out, &errOut)
	assert.ErrorContains(t, err, "corrupt")
	assert.Contains(t, out.String(), "0 restored")

	assert.Error(t, cli(ctx, nil, envFor(to, nil), &out, &errOut))
	assert.Error(t, cli(ctx, []string{"backup"}, envFor(to, nil), &out, &errOut))
}

func TestCLIDefaultsToTheLocalStack(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(`{"rest_token":"tok","webhook_secret":"ws"}`), 0o600))
	look := localDefaults(config.MapLookup(map[string]string{"DATA_DIR": dir, "LOCAL_REST_ADDR": "127.0.0.1:9999"}))
	for k, want := range map[string]string{"UPSTASH_REDIS_REST_URL": "http://127.0.0.1:9999", "UPSTASH_REDIS_REST_TOKEN": "tok", "WEBHOOK_SECRET": "ws"} {
		v, _ := look(k)
		assert.Equal(t, want, v, k)
	}
	_, ok := look("UPSTASH_VECTOR_REST_URL")
	assert.False(t, ok, "no vector token saved: no vector index")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(`{"rest_token":"tok","vector_token":"vt"}`), 0o600))
	look = localDefaults(config.MapLookup(map[string]string{"DATA_DIR": dir, "LOCAL_VECTOR_ADDR": "127.0.0.1:9998"}))
	for k, want := range map[string]string{"UPSTASH_VECTOR_REST_URL": "http://127.0.0.1:9998", "UPSTASH_VECTOR_REST_TOKEN": "vt"} {
		v, _ := look(k)
		assert.Equal(t, want, v, k)
	}
	set := localDefaults(config.MapLookup(map[string]string{"UPSTASH_REDIS_REST_URL": "https://x.upstash.io"}))
	_, ok = set("UPSTASH_REDIS_REST_TOKEN")
	assert.False(t, ok, "a configured store is used as it is")

	// Against the local stack, what the environment sets wins over the
	// saved secrets, and other settings pass through.
	look = localDefaults(config.MapLookup(map[string]string{"DATA_DIR": dir, "WEBHOOK_SECRET": "mine", "LOG_LEVEL": "debug"}))
	v, _ := look("WEBHOOK_SECRET")
	assert.Equal(t, "mine", v)
	v, _ = look("LOG_LEVEL")
	assert.Equal(t, "debug", v)
}

func TestScheduledEvents(t *testing.T) {
	b := upstashtest.Mini(t)
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("eu-west-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")))
	require.NoError(t, err)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true })
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ai-rails-backups")})
	require.NoError(t, err)

	tk, err := newTasks(ctx, envFor(b, map[string]string{"BACKUP_BUCKET": "ai-rails-backups", "BACKUP_PREFIX": "prod/backups"}), &bytes.Buffer{}, true)
	require.NoError(t, err)
	tk.s3 = s3c

	read := func(name string) json.RawMessage {
		raw, err := os.ReadFile(filepath.Join("..", "..", "events", "sweeper", name))
		require.NoError(t, err)
		return raw
	}
	out, err := tk.handle(ctx, read("sweep.json"))
	require.NoError(t, err)
	assert.IsType(t, sweep.Report{}, out)

	_, err = b.Client(t, upstash.Options{}).Do(ctx, "SET", "ai_rails_x", "1")
	require.NoError(t, err)
	out, err = tk.handle(ctx, read("backup.json"))
	require.NoError(t, err)
	m, _ := json.Marshal(out)
	assert.Contains(t, string(m), `"location":"s3://ai-rails-backups/prod/backups/`)
	assert.Contains(t, string(m), `"keys":1`)

	_, err = tk.handle(ctx, json.RawMessage(`{"task":"dance"}`))
	assert.ErrorContains(t, err, "want sweep or backup")
	_, err = tk.handle(ctx, json.RawMessage(`nope`))
	assert.Error(t, err)
}

// With BACKUP_DIR set, the scheduled backup event writes to that folder,
// so that sam local and the emulator run every sample event without S3.
func TestScheduledBackupToAFolder(t *testing.T) {
	b := upstashtest.Mini(t)
	dir := t.TempDir()
	tk, err := newTasks(ctx, envFor(b, map[string]string{"BACKUP_DIR": dir, "BACKUP_BUCKET": "ignored-when-a-folder-is-set"}), &bytes.Buffer{}, true)
	require.NoError(t, err)
	_, err = b.Client(t, upstash.Options{}).Do(ctx, "SET", "ai_rails_x", "1")
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "sweeper", "backup.json"))
	require.NoError(t, err)
	out, err := tk.handle(ctx, raw)
	require.NoError(t, err)
	m := out.(backup.Manifest)
	assert.EqualValues(t, 1, m.Keys)
	assert.True(t, strings.HasPrefix(m.Location, dir), m.Location)
	_, err = os.Stat(m.Location)
	assert.NoError(t, err)

	none, err := newTasks(ctx, envFor(b, nil), &bytes.Buffer{}, true)
	require.NoError(t, err)
	_, err = none.handle(ctx, raw)
	assert.ErrorContains(t, err, "BACKUP_DIR")
}

// The command line sweeps once and prints the report, and backs up to and
// restores from S3 as the AWS environment (an endpoint, credentials, path
// style) configures it, as an operator runs it against an S3-compatible
// store.
func TestCLISweepAndS3(t *testing.T) {
	b := upstashtest.Mini(t)
	var out, errOut bytes.Buffer
	require.NoError(t, cli(ctx, []string{"sweep"}, envFor(b, nil), &out, &errOut), errOut.String())
	var rep sweep.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.Zero(t, rep.Expired)

	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	for k, v := range map[string]string{"AWS_CA_BUNDLE": "", "AWS_ENDPOINT_URL_S3": srv.URL, "AWS_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_PROFILE": "", "AWS_CONFIG_FILE": "/nonexistent"} {
		t.Setenv(k, v)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ops")})
	require.NoError(t, err)

	c := b.Client(t, upstash.Options{})
	_, err = c.Do(ctx, "SET", "ai_rails_k", "v")
	require.NoError(t, err)
	env := envFor(b, map[string]string{"BACKUP_S3_PATH_STYLE": "true"})
	out.Reset()
	require.NoError(t, cli(ctx, []string{"backup", "s3://ops/nightly"}, env, &out, &errOut), errOut.String())
	loc := strings.TrimSpace(out.String())
	assert.True(t, strings.HasPrefix(loc, "s3://ops/nightly/"), loc)

	_, err = c.Do(ctx, "DEL", "ai_rails_k")
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, cli(ctx, []string{"restore", loc}, env, &out, &errOut), errOut.String())
	assert.Equal(t, "1 keys: 1 restored, 0 skipped as expired, 0 skipped as existing\n", out.String())
	v, err := upstash.String(c.Do(ctx, "GET", "ai_rails_k"))
	require.NoError(t, err)
	assert.Equal(t, "v", v)

	// A store that does not answer fails the sweep with its error.
	b.Server.Close()
	assert.Error(t, cli(ctx, []string{"sweep"}, envFor(b, nil), &out, &errOut))
}

// What an operator can get wrong is refused with the reason, before
// anything is read or written.
func TestCLIRefusals(t *testing.T) {
	b := upstashtest.Mini(t)
	var out, errOut bytes.Buffer
	for name, c := range map[string]struct {
		args []string
		env  func(string) (string, bool)
		want string
	}{
		"no store":           {[]string{"sweep"}, config.MapLookup(map[string]string{"UPSTASH_REDIS_REST_URL": "https://x.upstash.io"}), "UPSTASH_REDIS_REST_TOKEN"},
		"a file that is not": {[]string{"restore", filepath.Join(t.TempDir(), "none.jsonl.gz")}, envFor(b, nil), "no such file"},
		"a bad S3 location":  {[]string{"backup", "s3://"}, envFor(b, nil), "bucket"},
		"a bucket, no key":   {[]string{"restore", "s3://bucket-only"}, envFor(b, nil), "names no backup"},
		"a prefix, no key":   {[]string{"restore", "s3://bucket/backups/"}, envFor(b, nil), "names no backup"},
		"too many arguments": {[]string{"backup", "a", "b"}, envFor(b, nil), "usage"},
	} {
		err := cli(ctx, c.args, c.env, &out, &errOut)
		assert.ErrorContains(t, err, c.want, name)
	}
}

// The restore's progress count is drawn on a terminal (a character device)
// and nowhere else.
func TestProgressOnATerminalOnly(t *testing.T) {
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer dev.Close()
	assert.True(t, newProgress(dev).tty, "a character device")
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer file.Close()
	assert.False(t, newProgress(file).tty)
	assert.False(t, newProgress(&bytes.Buffer{}).tty)

	var screen bytes.Buffer
	p := &progress{w: &screen, tty: true}
	p.update(500)
	p.update(1000)
	p.done()
	assert.Equal(t, "\rrestoring: 500 keys read\rrestoring: 1000 keys read\n", screen.String())
	var log bytes.Buffer
	q := &progress{w: &log}
	q.update(500)
	q.done()
	assert.Empty(t, log.String())
}
