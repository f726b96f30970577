package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ai-rails/state-service/functions/internal/lambdahttp"
	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/wiring"
)

// tasks holds what the sweeper's tasks use, built once.
type tasks struct {
	svc *wiring.Service
	s3  *s3.Client
}

// newTasks builds the tasks; webhooks is true where the sweep runs, which
// signs webhooks and so needs the secret.
func newTasks(ctx context.Context, lookup func(string) (string, bool), out io.Writer, webhooks bool) (*tasks, error) {
	svc, err := lambdahttp.Wire(ctx, lookup, out, lambdahttp.Function{Name: "sweeper", Webhooks: webhooks})
	if err != nil {
		return nil, err
	}
	return &tasks{svc: svc}, nil
}

func (t *tasks) sweep(ctx context.Context) (sweep.Report, error) { return t.svc.Sweeper.Run(ctx) }

// s3Client is made on first use: only S3 locations need AWS configuration.
func (t *tasks) s3Client(ctx context.Context, loc string) (*s3.Client, error) {
	if _, _, isS3, _ := backup.ParseLocation(loc); !isS3 || t.s3 != nil {
		return t.s3, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	pathStyle := t.svc.Config.Backup.S3PathStyle
	t.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
	return t.s3, nil
}

func (t *tasks) backup(ctx context.Context, dest string) (backup.Manifest, error) {
	if dest == "" {
		return backup.Manifest{}, errors.New("set BACKUP_BUCKET (S3) or BACKUP_DIR (a folder) for scheduled backups")
	}
	c, err := t.s3Client(ctx, dest)
	if err != nil {
		return backup.Manifest{}, err
	}
	d, err := backup.NewDest(dest, c)
	if err != nil {
		return backup.Manifest{}, err
	}
	m, err := backup.Backup(ctx, t.svc.Client, t.svc.Keys, d, nil)
	if err == nil {
		t.svc.Logger.Info("backup written", "location", m.Location, "keys", m.Keys, "bytes", m.Bytes, "sha256", m.SHA256)
	}
	return m, err
}

func (t *tasks) restore(ctx context.Context, from string, stdout, stderr io.Writer) error {
	c, err := t.s3Client(ctx, from)
	if err != nil {
		return err
	}
	open, err := backup.Opener(ctx, from, c)
	if err != nil {
		return err
	}
	opts := backup.RestoreOptions{Force: t.svc.Config.Restore.Force, DryRun: t.svc.Config.Restore.DryRun}
	bar := newProgress(stderr)
	opts.Progress = bar.update
	sum, err := backup.Restore(ctx, t.svc.Client, open, opts)
	bar.done()
	prefix := ""
	if opts.DryRun {
		prefix = "dry run: "
	}
	fmt.Fprintf(stdout, "%s%s\n", prefix, sum)
	return err
}

// progress draws a one-line progress count on a terminal, and nothing
// elsewhere.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, tty: tty}
}

func (p *progress) update(keys int64) {
	if p.tty {
		fmt.Fprintf(p.w, "\rrestoring: %d keys read", keys)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// localDefaults points the tool at the local stack's REST endpoint and
// vector index when no store is configured: their addresses and tokens
// come from LOCAL_REST_ADDR, LOCAL_VECTOR_ADDR and DATA_DIR/secrets.json,
// as make run writes them.
func localDefaults(lookup func(string) (string, bool)) func(string) (string, bool) {
	env := config.NewEnv(lookup)
	if _, ok := env.Lookup("UPSTASH_REDIS_REST_URL"); ok {
		return lookup
	}
	dataDir := env.String("DATA_DIR", "./.data")
	var saved struct {
		RESTToken     string `json:"rest_token"`
		WebhookSecret string `json:"webhook_secret"`
		VectorToken   string `json:"vector_token"`
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "secrets.json")); err == nil {
		_ = json.Unmarshal(b, &saved)
	}
	extra := map[string]string{
		"UPSTASH_REDIS_REST_URL":   "http://" + env.String("LOCAL_REST_ADDR", "127.0.0.1:8079"),
		"UPSTASH_REDIS_REST_TOKEN": env.String("LOCAL_REST_TOKEN", saved.RESTToken),
		"WEBHOOK_SECRET":           env.String("WEBHOOK_SECRET", saved.WebhookSecret),
	}
	if saved.VectorToken != "" || env.String("LOCAL_VECTOR_TOKEN", "") != "" {
		extra["UPSTASH_VECTOR_REST_URL"] = "http://" + env.String("LOCAL_VECTOR_ADDR", "127.0.0.1:8078")
		extra["UPSTASH_VECTOR_REST_TOKEN"] = env.String("LOCAL_VECTOR_TOKEN", saved.VectorToken)
	}
	return func(k string) (string, bool) {
		if v, ok := extra[k]; ok {
			if cur, set := lookup(k); set && cur != "" {
				return cur, true
			}
			return v, true
		}
		return lookup(k)
	}
}
