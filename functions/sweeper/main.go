// Command sweeper is the scheduled Lambda function: EventBridge sends
// {"task": "sweep"} every 5 minutes and {"task": "backup"} every hour (as
// the rule's input, or in the event's detail). Outside Lambda it is the
// operators' tool:
//
//	sweeper sweep
//	sweeper backup <dir | s3://bucket/prefix>     prints the path it wrote
//	sweeper restore <file | s3://bucket/key>      FORCE=1 overwrites, DRY_RUN=1 writes nothing
//
// It acts on the store in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN,
// or else on the local stack's REST endpoint (its token read from
// DATA_DIR/secrets.json).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		t, err := newTasks(context.Background(), os.LookupEnv, os.Stdout, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "init:", err)
			os.Exit(1)
		}
		lambda.Start(t.handle)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sweeper:", err)
		os.Exit(1)
	}
}

// scheduled is an EventBridge event, or the constant input a rule sends
// instead of it.
type scheduled struct {
	Task   string `json:"task"`
	Detail struct {
		Task string `json:"task"`
	} `json:"detail"`
}

// handle runs the task the event names.
func (t *tasks) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev scheduled
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("the event is not JSON: %w", err)
	}
	task := ev.Task
	if task == "" {
		task = ev.Detail.Task
	}
	switch task {
	case "sweep":
		return t.sweep(ctx)
	case "backup":
		return t.backup(ctx, t.svc.Config.Backup.Location())
	}
	return nil, fmt.Errorf("task %q: want sweep or backup", task)
}

func cli(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: sweeper sweep | backup <dir|s3://bucket/prefix> | restore <file|s3://bucket/key>")
	}
	t, err := newTasks(ctx, localDefaults(lookup), stderr, args[0] == "sweep")
	if err != nil {
		return err
	}
	switch {
	case args[0] == "sweep" && len(args) == 1:
		rep, err := t.sweep(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(rep)
	case args[0] == "backup" && len(args) == 2:
		m, err := t.backup(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, m.Location)
		return nil
	case args[0] == "restore" && len(args) == 2:
		return t.restore(ctx, args[1], stdout, stderr)
	}
	return fmt.Errorf("usage: sweeper sweep | backup <dir|s3://bucket/prefix> | restore <file|s3://bucket/key>")
}
