package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/keys"
)

// backupPrefix keeps the backup's keys apart from the load's.
const backupPrefix = "benchbk_"

// seedBackup writes n keys under backupPrefix straight to Redis, in the
// proportions a store holds them: workflows with their history, approvals
// and test results.
func seedBackup(ctx context.Context, rdb *redis.Client, n int) error {
	k, err := keys.New(backupPrefix)
	if err != nil {
		return err
	}
	workflow := `{"workflow_id":"%s","feature_description":"Add login to the admin panel","current_stage":"implement","status":"in_progress","metadata":{"pr":%d,"repo":"ai-rails/demo"},"version":3,"created_at":"2026-11-26T10:00:00.000000Z","updated_at":"2026-11-26T10:05:00.000000Z","expires_at":"2026-11-27T10:05:00.000000Z"}`
	event := `{"version":%d,"at":"2026-11-26T10:0%d:00.000000Z","type":"updated","changes":{"current_stage":"implement"}}`
	approvalJSON := `{"approval_id":"%s","workflow_id":"ABC-123456","request_type":"code","content":"Review the tests","requester":"ci-bot","status":"pending","created_at":"2026-11-26T10:00:00.000000Z","expires_at":"2026-11-26T11:00:00.000000Z","decision":null}`
	result := `{"test_id":"%s","workflow_id":"ABC-123456","test_suite":"unit","passed":41,"failed":1,"skipped":2,"duration_seconds":3.2,"coverage_percent":87.5,"failure_details":[{"test":"TestLogin","message":"expected 200","file":"login_test.go","line":12}],"executed_at":"2026-11-26T10:00:00.000000Z"}`
	const batch = 1000
	for start := 0; start < n; start += batch {
		p := rdb.Pipeline()
		for i := start; i < min(start+batch, n); i++ {
			switch i % 5 {
			case 0, 1: // 40% workflows
				id, _ := keys.ParseWorkflowID(fmt.Sprintf("B%c%c-%06d", 'A'+byte(i/1000000%26), 'A'+byte(i%2), i%1000000))
				p.Set(ctx, k.Workflow(id), fmt.Sprintf(workflow, id, i), 24*time.Hour)
			case 2: // 20% histories
				id, _ := keys.ParseWorkflowID(fmt.Sprintf("BH%c-%06d", 'A'+byte(i/1000000%26), i%1000000))
				p.RPush(ctx, k.History(id), fmt.Sprintf(event, 1, 1), fmt.Sprintf(event, 2, 2), fmt.Sprintf(event, 3, 3))
				p.Expire(ctx, k.History(id), 24*time.Hour)
			case 3: // 20% approvals
				id := keys.NewApprovalID()
				p.Set(ctx, k.Approval(id), fmt.Sprintf(approvalJSON, id), 24*time.Hour)
			case 4: // 20% results
				id := keys.NewTestID()
				p.Set(ctx, k.TestResult(id), fmt.Sprintf(result, id), 7*24*time.Hour)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// dropPrefix deletes every key under prefix.
func dropPrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	it := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for it.Next(ctx) {
		if batch = append(batch, it.Val()); len(batch) == 1000 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
	}
	return it.Err()
}

// watchHWM reads the process's VmHWM (its peak resident set, in kB) every
// few milliseconds until stop, and returns the last value read.
func watchHWM(pid int, stop <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var last int64
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil && kb > last {
						last = kb
					}
				}
			}
		}
		select {
		case <-stop:
			return last
		case <-t.C:
		}
	}
}

// backupResult is the backup step's figures.
type backupResult struct {
	Keys      int64   `json:"keys"`
	Seconds   float64 `json:"seconds"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	FileBytes int64   `json:"file_bytes"`
}

// runBackup runs `sweeper backup DIR` as its own process, as an operator
// does, and measures its wall time and peak resident memory. It checks the
// file it wrote.
func runBackup(ctx context.Context, sweeper, restURL, token, dir string) (backupResult, error) {
	cmd := exec.CommandContext(ctx, sweeper, "backup", dir)
	cmd.Env = append(os.Environ(), "UPSTASH_REDIS_REST_URL="+restURL, "UPSTASH_REDIS_REST_TOKEN="+token,
		"KEY_PREFIX="+backupPrefix, "WEBHOOK_SECRET=bench", "LOG_LEVEL=warn")
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return backupResult{}, err
	}
	// The peak is VmHWM, read from /proc while the process runs. wait4's
	// ru_maxrss would not do: Go starts children with vfork, and Linux
	// counts the parent's resident set, shared until exec, in the child's.
	peak := make(chan int64, 1)
	stop := make(chan struct{})
	go func() { peak <- watchHWM(cmd.Process.Pid, stop) }()
	err := cmd.Wait()
	close(stop)
	r := backupResult{Seconds: time.Since(start).Seconds(), PeakRSSMB: float64(<-peak) / 1024}
	if err != nil {
		return backupResult{}, fmt.Errorf("sweeper backup: %v: %s", err, stderr.String())
	}
	path := strings.TrimSpace(out.String())
	f, err := os.Open(path)
	if err != nil {
		return r, fmt.Errorf("the backup file %q: %w", path, err)
	}
	defer f.Close()
	if _, r.Keys, err = backup.Verify(f); err != nil {
		return r, fmt.Errorf("verify %s: %w", filepath.Base(path), err)
	}
	if fi, err := f.Stat(); err == nil {
		r.FileBytes = fi.Size()
	}
	return r, nil
}
