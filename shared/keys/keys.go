// Package keys is the key schema and TTL policy of the store: pure functions
// and constants, with the prefix configurable (KEY_PREFIX, default
// "ai_rails_").
//
// A key is built only from an id that has passed validation: the builders
// take WorkflowID, ApprovalID and the like, which only their Parse functions
// make.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// DefaultPrefix is the planning document's key prefix.
const DefaultPrefix = "ai_rails_"

// The TTL policy.
const (
	// WorkflowDefaultTTL is a workflow's TTL when ttl_hours is not given; each
	// write resets it (a sliding TTL). Its history shares it.
	WorkflowDefaultTTL = 24 * time.Hour
	// WorkflowMinTTL and WorkflowMaxTTL bound ttl_hours.
	WorkflowMinTTL = time.Hour
	WorkflowMaxTTL = 168 * time.Hour
	// TestResultTTL is how long a test result is kept.
	TestResultTTL = 7 * 24 * time.Hour
	// LockMaxTTL is the longest a lock may be held without extending it.
	LockMaxTTL = 300 * time.Second
	// MetricTTL is how long an hourly counter is kept.
	MetricTTL = 30 * 24 * time.Hour
	// IdempotencyTTL is how long an idempotent request's answer is replayed.
	IdempotencyTTL = 24 * time.Hour
	// ApprovalRetentionDefault is how long a decided or expired approval and
	// its audit trail are kept (APPROVAL_RETENTION_HOURS).
	ApprovalRetentionDefault = 168 * time.Hour
	// OutboxRetryWindow is how long an undelivered webhook is retried.
	OutboxRetryWindow = 24 * time.Hour
)

// MetricHourLayout is the time layout of a metric key's hour, yyyymmddhh.
const MetricHourLayout = "2006010215"

// Schema builds the keys under one prefix.
type Schema struct{ prefix string }

// New returns the schema for prefix, or for DefaultPrefix when it is empty.
// A prefix is 1 to 64 characters of [A-Za-z0-9_:.-].
func New(prefix string) (Schema, error) {
	if prefix == "" {
		return Schema{DefaultPrefix}, nil
	}
	if len(prefix) > 64 || !allOf(prefix, "_:.-") {
		return Schema{}, fmt.Errorf("key prefix %q must be 1 to 64 characters of [A-Za-z0-9_:.-]", prefix)
	}
	return Schema{prefix}, nil
}

// Default is the schema with DefaultPrefix.
func Default() Schema { return Schema{DefaultPrefix} }

func allOf(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !isOneOf(s[i], extra) {
			return false
		}
	}
	return s != ""
}

// Prefix returns the prefix every key starts with.
func (s Schema) Prefix() string { return s.prefix }

// Pattern returns the SCAN MATCH pattern of every key under the prefix.
func (s Schema) Pattern() string { return escapeGlob(s.prefix) + "*" }

// Workflow is a workflow's state (string, JSON; TTL ttl_hours).
func (s Schema) Workflow(id WorkflowID) string { return s.prefix + "workflow_" + id.v }

// History is a workflow's events, a list of JSON (same TTL as the workflow; outlives a
// delete until it runs out).
func (s Schema) History(id WorkflowID) string { return s.prefix + "history_" + id.v }

// Approval is an approval (string, JSON; TTL until expires_at, plus retention
// after the decision or expiry).
func (s Schema) Approval(id ApprovalID) string { return s.prefix + "approval_" + id.v }

// Audit is an approval's audit trail, a list of JSON events (same TTL as the approval).
func (s Schema) Audit(id ApprovalID) string { return s.prefix + "audit_" + id.v }

// TestResult is a test result (string, JSON; TTL TestResultTTL).
func (s Schema) TestResult(id TestID) string { return s.prefix + "test_" + id.v }

// TestResultPrefix is what every test result key starts with.
func (s Schema) TestResultPrefix() string { return s.prefix + "test_" }

// Lock is a lock (string, the holder's token; TTL at most LockMaxTTL).
func (s Schema) Lock(id ResourceID) string { return s.prefix + "lock_" + id.v }

// LockID names a lock: a client's ResourceID, or one of the service's own
// locks, which live under keys that no resource id can build.
type LockID interface {
	String() string
	lockKey(s Schema) string
}

// ServiceLockID names one of the service's own locks.
type ServiceLockID struct{ v string }

// SweeperLock is the lock a sweep runs under.
var SweeperLock = ServiceLockID{"sweeper"}

func (id ServiceLockID) String() string { return "service lock " + id.v }

func (id ServiceLockID) lockKey(s Schema) string { return s.ServiceLock(id) }

func (id ResourceID) lockKey(s Schema) string { return s.Lock(id) }

// ServiceLock is the key of one of the service's own locks. It does not
// start with the client locks' "lock_", so no API call can reach it.
func (s Schema) ServiceLock(id ServiceLockID) string { return s.prefix + "service_lock_" + id.v }

// LockKey is the key of a lock of either kind.
func (s Schema) LockKey(id LockID) string { return id.lockKey(s) }

// Metric is an hourly counter (TTL MetricTTL), for the UTC hour holding at.
func (s Schema) Metric(name MetricName, at time.Time) string {
	return s.prefix + "metric_" + name.v + "_" + at.UTC().Format(MetricHourLayout)
}

// MetricPrefix is what every metric counter key starts with.
func (s Schema) MetricPrefix() string { return s.prefix + "metric_" }

// WorkflowIndex is the sorted set of workflow ids by last_updated (unix ms).
// Indexes have no TTL; the sweeper prunes entries whose keys have expired.
func (s Schema) WorkflowIndex() string { return s.prefix + "index_workflows" }

// WorkflowStatusIndex is the sorted set of the ids of workflows in one status
// by last_updated (unix ms). status is one of the workflow package's statuses.
func (s Schema) WorkflowStatusIndex(status string) string {
	return s.prefix + "index_workflows_" + status
}

// WorkflowKeyPrefix is what every workflow state key starts with; the list
// script appends ids it reads from an index.
func (s Schema) WorkflowKeyPrefix() string { return s.prefix + "workflow_" }

// PendingApprovals is the sorted set of pending approval ids by expires_at
// (unix ms), which the sweeper reads to expire them.
func (s Schema) PendingApprovals() string { return s.prefix + "index_approvals_pending" }

// ApprovalReminders is the sorted set of approvals' reminders still to
// send, "<approval id>|<n>" (the nth of its remind_after_seconds) by when
// each falls due (unix ms), which the sweeper reads.
func (s Schema) ApprovalReminders() string { return s.prefix + "index_approvals_reminders" }

// ApprovalIndex is the sorted set of every approval id by created_at
// (unix ms), for listing without a workflow.
func (s Schema) ApprovalIndex() string { return s.prefix + "index_approvals" }

// ApprovalKeyPrefix is what every approval key starts with.
func (s Schema) ApprovalKeyPrefix() string { return s.prefix + "approval_" }

// WorkflowApprovals is the sorted set of a workflow's approval ids by
// created_at (unix ms).
func (s Schema) WorkflowApprovals(id WorkflowID) string {
	return s.prefix + "index_approvals_" + id.v
}

// WorkflowResults is the sorted set of a workflow's test ids by executed_at
// (unix ms).
func (s Schema) WorkflowResults(id WorkflowID) string { return s.prefix + "index_results_" + id.v }

// Suite names a test suite in keys: 16 hex digits of its name's SHA-256,
// so that any suite name makes a key of fixed length.
func Suite(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:8])
}

// TestHistories is a suite's test histories: a hash from test name to its
// runs, newest first (TTL 30 days from the suite's last run).
func (s Schema) TestHistories(suite string) string { return s.prefix + "testhist_" + Suite(suite) }

// TestRuns is a suite's runs, which the histories refer to: a hash from run
// number to the run's time, workflow, commit and attempt (TTL as the
// histories).
func (s Schema) TestRuns(suite string) string { return s.prefix + "testruns_" + Suite(suite) }

// WorkflowFailureGroups is a workflow's failure groups: a hash from
// fingerprint to group (TTL 30 days from its latest failure).
func (s Schema) WorkflowFailureGroups(id WorkflowID) string {
	return s.prefix + "failgroups_wf_" + id.v
}

// SuiteFailureGroups is a suite's failure groups, as WorkflowFailureGroups.
func (s Schema) SuiteFailureGroups(suite string) string {
	return s.prefix + "failgroups_suite_" + Suite(suite)
}

// Failure is one fingerprint's record: its sample message, counts and latest
// occurrences (hash; TTL 30 days from its latest failure). fingerprint is
// 16 hex digits (failures.Fingerprint).
func (s Schema) Failure(fingerprint string) string { return s.prefix + "failure_" + fingerprint }

// FailurePrefix is what every failure record key starts with.
func (s Schema) FailurePrefix() string { return s.prefix + "failure_" }

// VectorOutbox is the sorted set of fingerprints whose vectors are still to
// be upserted, by when they fall due (unix ms).
func (s Schema) VectorOutbox() string { return s.prefix + "vector_outbox" }

// Outbox is the sorted set of undelivered webhooks by next attempt (unix ms).
func (s Schema) Outbox() string { return s.prefix + "webhook_outbox" }

// Idempotency is the stored fingerprint and answer of an idempotent request
// (TTL IdempotencyTTL). The client's key is hashed, so any printable key
// makes a key of fixed length.
func (s Schema) Idempotency(scope string, key IdempotencyKey) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + key.v))
	return s.prefix + "idempotency_" + hex.EncodeToString(sum[:])
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Family describes one kind of key, for documentation and the backup.
type Family struct {
	Name    string
	Example string
	Type    string
	TTL     string
}

// Families lists every kind of key the service writes, with its TTL.
func (s Schema) Families() []Family {
	wf := WorkflowID{"ABC-123456"}
	ap := ApprovalID{"3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c"}
	return []Family{
		{"workflow", s.Workflow(wf), "string (JSON)", "ttl_hours, default 86400 s, at most 168 h; reset on each write"},
		{"history", s.History(wf), "list", "same as the workflow"},
		{"approval", s.Approval(ap), "string (JSON)", "until expires_at, plus APPROVAL_RETENTION_HOURS after the decision or expiry"},
		{"audit", s.Audit(ap), "list", "same as the approval"},
		{"test result", s.TestResult(TestID{"run-42"}), "string (JSON)", "604800 s"},
		{"lock", s.Lock(ResourceID{"deploy:prod"}), "string (token)", "at most 300 s"},
		{"service lock", s.ServiceLock(SweeperLock), "string (token)", "the length of a sweep, at most 300 s"},
		{"metric", s.Metric(MetricName{"requests"}, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)), "counter", "2592000 s"},
		{"idempotency", s.Idempotency("approval", IdempotencyKey{"k"}), "string (JSON)", "86400 s"},
		{"workflow index", s.WorkflowIndex(), "sorted set", "none; pruned by the sweeper"},
		{"workflow status index", s.WorkflowStatusIndex("pending"), "sorted set", "none; pruned by the sweeper"},
		{"pending approvals", s.PendingApprovals(), "sorted set", "none; pruned by the sweeper"},
		{"approval reminders", s.ApprovalReminders(), "sorted set", "none; entries leave when they fall due"},
		{"approval index", s.ApprovalIndex(), "sorted set", "none; pruned by the sweeper"},
		{"workflow approvals", s.WorkflowApprovals(wf), "sorted set", "none; pruned by the sweeper"},
		{"workflow results", s.WorkflowResults(wf), "sorted set", "none; pruned by the sweeper"},
		{"webhook outbox", s.Outbox(), "sorted set", "none; entries retried for 24 h"},
		{"test histories", s.TestHistories("unit"), "hash (test -> runs)", "2592000 s from the suite's last run"},
		{"test runs", s.TestRuns("unit"), "hash (run -> time, workflow, commit, attempt)", "2592000 s from the suite's last run"},
		{"workflow failure groups", s.WorkflowFailureGroups(wf), "hash (fingerprint -> group)", "2592000 s from the latest failure"},
		{"suite failure groups", s.SuiteFailureGroups("unit"), "hash (fingerprint -> group)", "2592000 s from the latest failure"},
		{"failure", s.Failure("3f0c6a8e5b7d4c1e"), "hash", "2592000 s from the latest failure"},
		{"vector outbox", s.VectorOutbox(), "sorted set", "none; entries leave when their vectors are upserted"},
	}
}
