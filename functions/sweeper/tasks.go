package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ai-rails/state-service/functions/internal/lambdahttp"
	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/sweep"
)

// tasks holds what the sweeper's tasks use, built once.
type tasks struct {
	deps    api.Deps
	sweeper *sweep.Sweeper
	// backupDest is where a scheduled backup goes: BACKUP_DIR, a folder,
	// when it is set (sam local, the emulator), else
	// s3://BACKUP_BUCKET/BACKUP_PREFIX (AWS).
	backupDest string
	s3         *s3.Client
	lookup     func(string) (string, bool)
}

// newTasks builds the tasks; webhooks is true where the sweep runs, which
// signs webhooks and so needs the secret.
func newTasks(ctx context.Context, lookup func(string) (string, bool), out io.Writer, webhooks bool) (*tasks, error) {
	d, err := lambdahttp.Setup(ctx, lookup, out, lambdahttp.Function{Name: "sweeper", Webhooks: webhooks})
	if err != nil {
		return nil, err
	}
	st := approval.NewStore(d.Store, d.Keys, approval.Config{Retention: d.Approvals.Retention, Deliverer: d.Approvals.Deliverer, Logger: d.Logger})
	t := &tasks{deps: d, sweeper: sweep.New(d.Store, d.Keys, st, nil, d.Logger, out), lookup: lookup}
	env := config.NewEnv(lookup)
	if b := env.String("BACKUP_BUCKET", ""); b != "" {
		t.backupDest = "s3://" + b + "/" + strings.Trim(env.String("BACKUP_PREFIX", "backups"), "/")
	}
	if dir := env.String("BACKUP_DIR", ""); dir != "" {
		t.backupDest = dir
	}
	return t, env.Err()
}

func (t *tasks) sweep(ctx context.Context) (sweep.Report, error) { return t.sweeper.Run(ctx) }

// s3Client is made on first use: only S3 locations need AWS configuration.
func (t *tasks) s3Client(ctx context.Context, loc string) (*s3.Client, error) {
	if _, _, isS3, _ := backup.ParseLocation(loc); !isS3 || t.s3 != nil {
		return t.s3, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	pathStyle := config.NewEnv(t.lookup).Bool("BACKUP_S3_PATH_STYLE", false)
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
	m, err := backup.Backup(ctx, t.deps.Store, t.deps.Keys, d, nil)
	if err == nil {
		t.deps.Logger.Info("backup written", "location", m.Location, "keys", m.Keys, "bytes", m.Bytes, "sha256", m.SHA256)
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
	env := config.NewEnv(t.lookup)
	opts := backup.RestoreOptions{Force: env.Bool("FORCE", false), DryRun: env.Bool("DRY_RUN", false)}
	if err := env.Err(); err != nil {
		return err
	}
	bar := newProgress(stderr)
	opts.Progress = bar.update
	sum, err := backup.Restore(ctx, t.deps.Store, open, opts)
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

// localDefaults points the tool at the local stack's REST endpoint when no
// store is configured: its address and token come from LOCAL_REST_ADDR and
// DATA_DIR/secrets.json, as make run writes them.
func localDefaults(lookup func(string) (string, bool)) func(string) (string, bool) {
	env := config.NewEnv(lookup)
	if _, ok := env.Lookup("UPSTASH_REDIS_REST_URL"); ok {
		return lookup
	}
	dataDir := env.String("DATA_DIR", "./.data")
	var saved struct {
		RESTToken     string `json:"rest_token"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "secrets.json")); err == nil {
		_ = json.Unmarshal(b, &saved)
	}
	extra := map[string]string{
		"UPSTASH_REDIS_REST_URL":   "http://" + env.String("LOCAL_REST_ADDR", "127.0.0.1:8079"),
		"UPSTASH_REDIS_REST_TOKEN": env.String("LOCAL_REST_TOKEN", saved.RESTToken),
		"WEBHOOK_SECRET":           env.String("WEBHOOK_SECRET", saved.WebhookSecret),
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
