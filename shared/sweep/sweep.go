// Package sweep is the scheduled cleanup: under a lock, it runs out due
// approvals (queueing their webhooks), queues due reminders, retries the webhook outbox with
// backoff, upserts the failure memory's vectors that ingests could not,
// and prunes index entries whose keys have expired. Each step is
// idempotent, so a run cut short is finished by the next.
package sweep

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/workflow"
)

//go:embed prune.lua
var pruneLua string

var pruneScript = upstash.NewScript(pruneLua)

// Batch is how many entries each step handles per round trip.
const Batch = 200

// LockTTL bounds a run: another sweeper may start once it has passed.
const LockTTL = keys.LockMaxTTL

// Report counts what a run did.
type Report struct {
	Skipped  bool                    `json:"skipped"` // another run held the lock
	Expired  int                     `json:"expired"`
	Reminded int                     `json:"reminded"`
	Webhooks approval.DeliveryReport `json:"webhooks"`
	Vectors  failures.VectorReport   `json:"vectors"`
	Pruned   int                     `json:"pruned"`
	Duration time.Duration           `json:"-"`
}

// Sweeper runs sweeps.
type Sweeper struct {
	c         *upstash.Client
	keys      keys.Schema
	approvals *approval.Service
	locks     lock.Service
	vectors   failures.Outbox
	now       func() time.Time
	log       *slog.Logger
	emf       io.Writer
}

// New returns a Sweeper. vectors may be nil (no vector index). emf, when
// not nil, receives one CloudWatch EMF line per run.
func New(c *upstash.Client, k keys.Schema, approvals *approval.Service, locks lock.Service, vectors failures.Outbox,
	now func() time.Time, log *slog.Logger, emf io.Writer) *Sweeper {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Sweeper{c: c, keys: k, approvals: approvals, locks: locks, vectors: vectors, now: now, log: log, emf: emf}
}

// Run sweeps once, unless another run holds the lock.
func (s *Sweeper) Run(ctx context.Context) (Report, error) {
	start := time.Now()
	id := keys.SweeperLock
	l, err := s.locks.Acquire(ctx, id, "sweeper", LockTTL)
	if apperr.KindOf(err) == apperr.Conflict {
		s.log.Info("sweep skipped: another run holds the lock")
		return Report{Skipped: true}, nil
	}
	if err != nil {
		return Report{}, fmt.Errorf("sweep: take the lock: %w", err)
	}
	defer func() {
		if err := s.locks.Release(context.WithoutCancel(ctx), id, l.Token); err != nil {
			s.log.Warn("sweep: release the lock", "error", err)
		}
	}()
	rep, err := s.Steps(ctx)
	rep.Duration = time.Since(start)
	s.report(rep, err)
	return rep, err
}

// Steps runs the steps without the lock: run out, remind, deliver, upsert
// vectors, prune.
func (s *Sweeper) Steps(ctx context.Context) (Report, error) {
	var rep Report
	for _, step := range []struct {
		run   func(context.Context, int) (int, bool, error)
		count *int
	}{{s.approvals.ExpireDue, &rep.Expired}, {s.approvals.QueueReminders, &rep.Reminded}} {
		for {
			n, more, err := step.run(ctx, Batch)
			*step.count += n
			if err != nil {
				return rep, err
			}
			if !more {
				break
			}
		}
	}
	for {
		d, err := s.approvals.DeliverDue(ctx, Batch)
		rep.Webhooks.Delivered += d.Delivered
		rep.Webhooks.Failed += d.Failed
		rep.Webhooks.GaveUp += d.GaveUp
		rep.Webhooks.Dropped += d.Dropped
		if err != nil {
			return rep, err
		}
		if d.Delivered+d.Failed+d.GaveUp+d.Dropped < Batch {
			break
		}
	}
	if err := s.upsertVectors(ctx, &rep); err != nil {
		return rep, err
	}
	n, err := s.Prune(ctx)
	rep.Pruned = n
	return rep, err
}

// upsertVectors delivers the due entries of the vector outbox. An index
// that cannot be reached is logged, not a failed sweep: the entries wait
// for the next run.
func (s *Sweeper) upsertVectors(ctx context.Context, rep *Report) error {
	if s.vectors == nil {
		return nil
	}
	for {
		r, more, err := s.vectors.DeliverDue(ctx, Batch, s.now())
		rep.Vectors.Upserted += r.Upserted
		rep.Vectors.Failed += r.Failed
		if r.Failed > 0 {
			s.log.Warn("sweep: vector upsert failed; the outbox keeps it", "vectors", r.Failed, "error", err)
			return nil
		}
		if err != nil || !more {
			return err
		}
	}
}

// index is a sorted set and how its members name their documents.
type index struct {
	key string
	doc func(member string) (string, bool)
}

// indexes lists every index: the fixed ones, and the per-workflow ones
// found with SCAN.
func (s *Sweeper) indexes(ctx context.Context) ([]index, error) {
	wfDoc := func(m string) (string, bool) {
		id, err := keys.ParseWorkflowID(m)
		return s.keys.Workflow(id), err == nil
	}
	apDoc := func(m string) (string, bool) {
		id, err := keys.ParseApprovalID(m)
		return s.keys.Approval(id), err == nil
	}
	testDoc := func(m string) (string, bool) {
		id, err := keys.ParseTestID(m)
		return s.keys.TestResult(id), err == nil
	}
	out := []index{{s.keys.WorkflowIndex(), wfDoc}, {s.keys.ApprovalIndex(), apDoc}, {s.keys.PendingApprovals(), apDoc}}
	for _, st := range workflow.Statuses {
		out = append(out, index{s.keys.WorkflowStatusIndex(string(st)), wfDoc})
	}
	wf, _ := keys.ParseWorkflowID("AAA-000000")
	for _, fam := range []struct {
		prefix string
		doc    func(string) (string, bool)
	}{
		{strings.TrimSuffix(s.keys.WorkflowApprovals(wf), wf.String()), apDoc},
		{strings.TrimSuffix(s.keys.WorkflowResults(wf), wf.String()), testDoc},
	} {
		cursor := "0"
		for {
			page, err := upstash.Values(s.c.Do(ctx, "SCAN", cursor, "MATCH", fam.prefix+"[A-Z][A-Z][A-Z]-*", "COUNT", 1000))
			if err != nil {
				return nil, fmt.Errorf("sweep: find indexes: %w", err)
			}
			cursor, _ = page[0].(string)
			names, _ := upstash.Strings(page[1], nil)
			for _, n := range names {
				if _, err := keys.ParseWorkflowID(strings.TrimPrefix(n, fam.prefix)); err == nil {
					out = append(out, index{n, fam.doc})
				}
			}
			if cursor == "0" {
				break
			}
		}
	}
	return out, nil
}

// Prune removes index entries whose documents have expired, and entries
// that are not ids at all.
func (s *Sweeper) Prune(ctx context.Context) (int, error) {
	idx, err := s.indexes(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, ix := range idx {
		cursor := "0"
		for {
			page, err := upstash.Values(s.c.Do(ctx, "ZSCAN", ix.key, cursor, "COUNT", Batch))
			if err != nil {
				return total, fmt.Errorf("sweep: read %s: %w", ix.key, err)
			}
			cursor, _ = page[0].(string)
			flat, _ := upstash.Strings(page[1], nil)
			ks := []string{ix.key}
			var members []any
			for i := 0; i+1 < len(flat); i += 2 {
				doc, ok := ix.doc(flat[i])
				if !ok {
					if n, err := upstash.Int64(s.c.Do(ctx, "ZREM", ix.key, flat[i])); err == nil {
						total += int(n)
					}
					continue
				}
				ks = append(ks, doc)
				members = append(members, flat[i])
			}
			if len(members) > 0 {
				n, err := upstash.Int64(pruneScript.Run(ctx, s.c, ks, members...))
				if err != nil {
					return total, fmt.Errorf("sweep: prune %s: %w", ix.key, err)
				}
				total += int(n)
			}
			if cursor == "0" {
				break
			}
		}
	}
	return total, nil
}

func (s *Sweeper) report(rep Report, err error) {
	attrs := []any{"expired", rep.Expired, "reminded", rep.Reminded, "delivered", rep.Webhooks.Delivered, "failed", rep.Webhooks.Failed,
		"gave_up", rep.Webhooks.GaveUp, "dropped", rep.Webhooks.Dropped, "vectors_upserted", rep.Vectors.Upserted,
		"vectors_failed", rep.Vectors.Failed, "pruned", rep.Pruned,
		"duration_ms", rep.Duration.Milliseconds()}
	if err != nil {
		s.log.Error("sweep failed", append(attrs, "error", err)...)
	} else {
		s.log.Info("sweep done", attrs...)
	}
	if s.emf == nil {
		return
	}
	errs := 0
	if err != nil {
		errs = 1
	}
	line, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": s.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "AIRails/StateService",
				"Dimensions": [][]string{{"Function"}},
				"Metrics": []any{
					map[string]string{"Name": "ApprovalsExpired", "Unit": "Count"},
					map[string]string{"Name": "RemindersSent", "Unit": "Count"},
					map[string]string{"Name": "WebhooksDelivered", "Unit": "Count"},
					map[string]string{"Name": "WebhooksFailed", "Unit": "Count"},
					map[string]string{"Name": "WebhooksGaveUp", "Unit": "Count"},
					map[string]string{"Name": "VectorsUpserted", "Unit": "Count"},
					map[string]string{"Name": "VectorsFailed", "Unit": "Count"},
					map[string]string{"Name": "IndexEntriesPruned", "Unit": "Count"},
					map[string]string{"Name": "SweepErrors", "Unit": "Count"},
					map[string]string{"Name": "SweepDuration", "Unit": "Milliseconds"},
				},
			}},
		},
		"Function": "sweeper", "ApprovalsExpired": rep.Expired, "RemindersSent": rep.Reminded, "WebhooksDelivered": rep.Webhooks.Delivered,
		"WebhooksFailed": rep.Webhooks.Failed, "WebhooksGaveUp": rep.Webhooks.GaveUp, "IndexEntriesPruned": rep.Pruned,
		"VectorsUpserted": rep.Vectors.Upserted, "VectorsFailed": rep.Vectors.Failed,
		"SweepErrors": errs, "SweepDuration": rep.Duration.Milliseconds(),
	})
	_, _ = s.emf.Write(append(line, '\n'))
}

// ErrUnknownTask is returned for a scheduled event naming no known task.
var ErrUnknownTask = errors.New("unknown task")
