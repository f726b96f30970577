package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

var ctx = context.Background()

// fakeS3 starts gofakes3 over HTTP and returns a real SDK client of it with
// a bucket made.
func fakeS3(t *testing.T) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")))
	require.NoError(t, err)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")})
	require.NoError(t, err)
	return c
}

const bin = "\xff\x00\xfebinary"

// seed writes one key of every type under the prefix, and one outside it.
func seed(t *testing.T, c *upstash.Client) {
	t.Helper()
	for _, cmd := range [][]any{
		{"SET", "ai_rails_workflow_ABC-123456", `{"workflow_id":"ABC-123456","metadata":{}}`, "PX", 3600000},
		{"HSET", "ai_rails_hash", "a", "1", "b", "é"},
		{"ZADD", "ai_rails_index_workflows", "1795600000123", "ABC-123456", "1.5", "other"},
		{"SADD", "ai_rails_set", "x", "y"},
		{"RPUSH", "ai_rails_list", "1", "2", "1"},
		{"XADD", "ai_rails_history_ABC-123456", "1-1", "type", "created", "version", "1"},
		{"XADD", "ai_rails_history_ABC-123456", "2-0", "type", "updated"},
		{"PEXPIRE", "ai_rails_history_ABC-123456", 7200000},
		{"SET", "ai_rails_short", "soon gone", "PX", 5000},
		{"SET", "other_app_key", "not ours"},
	} {
		_, err := c.Do(ctx, cmd...)
		require.NoError(t, err, "%v", cmd)
	}
	_, err := c.Do(ctx, "SET", "ai_rails_binary", bin)
	require.NoError(t, err)
}

// dump reads every key under the prefix with its value and TTL class.
func dump(t *testing.T, c *upstash.Client) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, k := range []string{"ai_rails_workflow_ABC-123456", "ai_rails_hash", "ai_rails_index_workflows", "ai_rails_set",
		"ai_rails_list", "ai_rails_history_ABC-123456", "ai_rails_binary", "ai_rails_short", "other_app_key"} {
		typ, _ := upstash.String(c.Do(ctx, "TYPE", k))
		var v any
		switch typ {
		case "string":
			v, _ = c.Do(ctx, "GET", k)
		case "hash":
			v, _ = c.Do(ctx, "HGETALL", k)
		case "zset":
			v, _ = c.Do(ctx, "ZRANGE", k, 0, -1, "WITHSCORES")
		case "set":
			m, _ := upstash.Strings(c.Do(ctx, "SMEMBERS", k))
			slices.Sort(m)
			v = m
		case "list":
			v, _ = c.Do(ctx, "LRANGE", k, 0, -1)
		case "stream":
			v, _ = c.Do(ctx, "XRANGE", k, "-", "+")
		}
		out[k] = []any{typ, v}
	}
	return out
}

func pttl(t *testing.T, c *upstash.Client, k string) int64 {
	n, err := upstash.Int64(c.Do(ctx, "PTTL", k))
	require.NoError(t, err)
	return n
}

func TestRoundTrip(t *testing.T) {
	for _, dest := range []string{"dir", "s3"} {
		t.Run(dest, func(t *testing.T) {
			for _, from := range upstashtest.Backends(t) {
				t.Run(from.Name, func(t *testing.T) {
					src := from.Client(t, upstash.Options{})
					seed(t, src)
					var d backup.Dest = backup.Dir(t.TempDir())
					var s3c *s3.Client
					if dest == "s3" {
						s3c = fakeS3(t)
						d = backup.S3{Client: s3c, Bucket: "backups", Prefix: "prod/backups"}
					}
					at := time.Date(2026, 11, 26, 10, 4, 5, 0, time.UTC)
					m, err := backup.Backup(ctx, src, keys.Default(), d, func() time.Time { return at })
					require.NoError(t, err)
					assert.Equal(t, int64(8), m.Keys, "every key under the prefix, none other")
					assert.Positive(t, m.Bytes)
					assert.Len(t, m.SHA256, 64)
					if dest == "s3" {
						assert.Equal(t, "s3://backups/prod/backups/2026/11/26/100405Z.jsonl.gz", m.Location)
					} else {
						assert.True(t, strings.HasSuffix(m.Location, filepath.FromSlash("2026/11/26/100405Z.jsonl.gz")), m.Location)
						_, err := os.Stat(strings.TrimSuffix(m.Location, ".jsonl.gz") + ".manifest.json")
						assert.NoError(t, err)
					}

					for _, to := range upstashtest.Backends(t) {
						dst := to.Client(t, upstash.Options{})
						open, err := backup.Opener(ctx, m.Location, s3c)
						require.NoError(t, err)
						sum, err := backup.Restore(ctx, dst, open, backup.RestoreOptions{Now: func() time.Time { return at.Add(10 * time.Second) }})
						require.NoError(t, err, to.Name)
						assert.Equal(t, backup.Summary{Restored: 7, SkippedExpired: 1, Keys: 8}, sum, "the 5 s key ran out in the 10 s since")
						want := dump(t, src)
						want["ai_rails_short"] = []any{"none", nil}
						want["other_app_key"] = []any{"none", nil}
						assert.Equal(t, want, dump(t, dst), "restored into %s", to.Name)
						assert.InDelta(t, 3600000-10000, pttl(t, dst, "ai_rails_workflow_ABC-123456"), 2000, "TTLs shortened by the time since")
						assert.InDelta(t, 7200000-10000, pttl(t, dst, "ai_rails_history_ABC-123456"), 2000)
						assert.Equal(t, int64(-1), pttl(t, dst, "ai_rails_hash"), "no TTL stays no TTL")
					}
				})
			}
		})
	}
}

func TestExistingKeysAndDryRun(t *testing.T) {
	b := upstashtest.Mini(t)
	c := b.Client(t, upstash.Options{})
	seed(t, c)
	dir := backup.Dir(t.TempDir())
	m, err := backup.Backup(ctx, c, keys.Default(), dir, nil)
	require.NoError(t, err)
	open, _ := backup.Opener(ctx, m.Location, nil)

	_, err = c.Do(ctx, "SET", "ai_rails_hash", "newer")
	require.NoError(t, err)
	_, err = c.Do(ctx, "DEL", "ai_rails_set")
	require.NoError(t, err)

	sum, err := backup.Restore(ctx, c, open, backup.RestoreOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, backup.Summary{Restored: 1, SkippedExisted: 7, Keys: 8}, sum)
	n, _ := upstash.Int64(c.Do(ctx, "EXISTS", "ai_rails_set"))
	assert.Zero(t, n, "a dry run writes nothing")

	sum, err = backup.Restore(ctx, c, open, backup.RestoreOptions{})
	require.NoError(t, err)
	assert.Equal(t, backup.Summary{Restored: 1, SkippedExisted: 7, Keys: 8}, sum)
	v, _ := upstash.String(c.Do(ctx, "GET", "ai_rails_hash"))
	assert.Equal(t, "newer", v, "an existing key is kept")

	var seen []int64
	sum, err = backup.Restore(ctx, c, open, backup.RestoreOptions{Force: true, Progress: func(n int64) { seen = append(seen, n) }})
	require.NoError(t, err)
	assert.Equal(t, int64(8), sum.Restored)
	assert.Equal(t, []int64{8}, seen, "progress is told after each batch")
	h, _ := upstash.Strings(c.Do(ctx, "HGETALL", "ai_rails_hash"))
	assert.ElementsMatch(t, []string{"a", "1", "b", "é"}, h, "forced: the backup's value")
}

func gz(s string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return buf.Bytes()
}

func TestCorruptFilesWriteNothing(t *testing.T) {
	b := upstashtest.Mini(t)
	c := b.Client(t, upstash.Options{})
	seed(t, c)
	var good bytes.Buffer
	_, err := backup.Dump(ctx, c, keys.Default(), &good, nil)
	require.NoError(t, err)
	_, err = c.Do(ctx, "FLUSHALL")
	require.NoError(t, err)

	header := `{"format":"ai-rails-backup","version":1,"prefix":"ai_rails_","created_at":"2026-11-26T10:00:00Z"}` + "\n"
	rec := `{"k":"ai_rails_x","t":"string","ttl_ms":-1,"v":"1"}` + "\n"
	cases := map[string][]byte{
		"truncated gzip": good.Bytes()[:good.Len()/2],
		"not gzip":       []byte("hello"),
		"no end record":  gz(header + rec),
		"wrong count":    gz(header + rec + `{"end":true,"keys":5}` + "\n"),
		"bad line":       gz(header + rec + "{oops\n" + `{"end":true,"keys":2}` + "\n"),
		"unknown type":   gz(header + `{"k":"ai_rails_x","t":"bloom","ttl_ms":-1,"v":"1"}` + "\n" + `{"end":true,"keys":1}` + "\n"),
		"wrong version":  gz(`{"format":"ai-rails-backup","version":9,"prefix":"ai_rails_","created_at":"2026-11-26T10:00:00Z"}` + "\n"),
		"data after end": gz(header + rec + `{"end":true,"keys":1}` + "\n" + rec),
		"odd hash":       gz(header + `{"k":"ai_rails_h","t":"stream","ttl_ms":-1,"v":[["1-1",["f"]]]}` + "\n" + `{"end":true,"keys":1}` + "\n"),
		"bad created_at": gz(`{"format":"ai-rails-backup","version":1,"prefix":"ai_rails_","created_at":"yesterday"}` + "\n" + rec + `{"end":true,"keys":1}` + "\n"),
		"bad base64":     gz(header + `{"k":{"b64":"!!"},"t":"string","ttl_ms":-1,"v":"1"}` + "\n" + `{"end":true,"keys":1}` + "\n"),
	}
	for name, data := range cases {
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		_, err := backup.Restore(ctx, c, open, backup.RestoreOptions{})
		assert.ErrorIs(t, err, backup.ErrCorrupt, name)
		n, _ := upstash.Int64(c.Do(ctx, "DBSIZE"))
		assert.Zero(t, n, "%s: nothing written", name)
	}
}

// Where a backup goes and comes from: folders and S3 locations, what each
// needs, and what a failure leaves behind (nothing).
func TestDestinationsAndSources(t *testing.T) {
	dir := t.TempDir()
	d, err := backup.NewDest(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, backup.Dir(dir), d)
	_, err = backup.NewDest("s3://bucket/prefix", nil)
	assert.ErrorContains(t, err, "AWS configuration")
	_, err = backup.NewDest("s3:///prefix", nil)
	assert.ErrorContains(t, err, "s3://bucket/key")
	s3c := fakeS3(t)
	d, err = backup.NewDest("s3://backups/a/b", s3c)
	require.NoError(t, err)
	assert.Equal(t, backup.S3{Client: s3c, Bucket: "backups", Prefix: "a/b"}, d)

	// A write that fails leaves no file, not even a partial one.
	_, err = backup.Dir(dir).Put(ctx, "x/y.jsonl.gz", func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return errors.New("the store went away")
	})
	require.Error(t, err)
	left, _ := filepath.Glob(filepath.Join(dir, "x", "*"))
	assert.Empty(t, left)
	// So does one to a bucket that is not there.
	_, err = backup.S3{Client: s3c, Bucket: "missing"}.Put(ctx, "y.jsonl.gz", func(w io.Writer) error {
		_, err := io.WriteString(w, "data")
		return err
	})
	assert.Error(t, err)

	for loc, client := range map[string]*s3.Client{"s3://": nil, "s3://backups/k": nil} {
		_, err := backup.Opener(ctx, loc, client)
		assert.Error(t, err, loc)
	}
	open, err := backup.Opener(ctx, "s3://backups/missing.jsonl.gz", s3c)
	require.NoError(t, err)
	_, err = open()
	assert.Error(t, err, "a missing object")
	open, err = backup.Opener(ctx, filepath.Join(dir, "missing.jsonl.gz"), nil)
	require.NoError(t, err)
	_, err = open()
	assert.ErrorIs(t, err, os.ErrNotExist)

	assert.Equal(t, "3 keys: 1 restored, 1 skipped as expired, 1 skipped as existing",
		backup.Summary{Keys: 3, Restored: 1, SkippedExpired: 1, SkippedExisted: 1}.String())
}

// A backup of a store that stops answering fails, and leaves nothing in
// the folder: no partial file under the final name, no manifest. A folder
// that cannot be made fails the same way.
func TestAFailedBackupLeavesNothing(t *testing.T) {
	b := upstashtest.Real(t)
	c := b.Client(t, upstash.Options{Options: restclient.Options{MaxRetries: -1}})
	seed(t, c)
	b.Redis.Stop()
	dir := t.TempDir()
	_, err := backup.Backup(ctx, c, keys.Default(), backup.Dir(dir), nil)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	assert.Empty(t, filesUnder(t, dir))

	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err = backup.Backup(ctx, c, keys.Default(), backup.Dir(blocker), nil)
	assert.Error(t, err, "a folder under a file")
}

// fakeStore answers SCAN with one key and the dump script with row, as a
// store (or a proxy in front of one) that answers in a shape the backup
// does not know: something a real server here cannot be made to do.
func fakeStore(t *testing.T, row any) *upstash.Client {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cmd []any
		_ = json.NewDecoder(r.Body).Decode(&cmd)
		var result any
		switch name, _ := cmd[0].(string); name {
		case "SCAN":
			result = []any{b64("0"), []any{b64("ai_rails_k")}}
		default: // EVAL or EVALSHA of the dump script
			result = []any{row}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": result})
	}))
	t.Cleanup(srv.Close)
	c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: srv.URL, Token: "t", MaxRetries: -1}})
	require.NoError(t, err)
	return c
}

// A key the backup cannot read whole fails the backup, naming the key,
// rather than writing a backup that would not restore it.
func TestUnknownShapesFailTheBackup(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	key := b64("ai_rails_k")
	for want, row := range map[string]any{
		`type "vectorset" is not backed up`: []any{key, b64("vectorset"), -1, nil},
		"odd number of elements":            []any{key, b64("hash"), -1, []any{b64("f")}},
		"expected strings":                  []any{key, b64("list"), -1, []any{1, 2}},
		"expected an array":                 []any{key, b64("set"), -1, b64("x")},
		"expected a string":                 []any{key, b64("string"), -1, []any{}},
		"malformed stream entry":            []any{key, b64("stream"), -1, []any{[]any{b64("1-1")}}},
		"expected stream entries":           []any{key, b64("stream"), -1, b64("x")},
		"malformed row":                     []any{key, b64("string")},
	} {
		dir := t.TempDir()
		_, err := backup.Backup(ctx, fakeStore(t, row), keys.Default(), backup.Dir(dir), nil)
		assert.ErrorContains(t, err, want)
		assert.Empty(t, filesUnder(t, dir), "%s: nothing left behind", want)
	}
}

// filesUnder lists the files below dir (folders are not files).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	}))
	return files
}
