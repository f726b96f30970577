// Package sample is the package whose `go test -json` output is
// ../capture.ndjson: a passing, a failing and a skipped test, and a test
// with one passing and one failing subtest. Regenerate with
//
//	cd testdata/gotest/sample && GOWORK=off go test -json ./... > ../capture.ndjson
package sample

import "testing"

func TestPass(t *testing.T) {}

func TestFail(t *testing.T) {
	got := 500
	if got != 200 {
		t.Errorf("status = %d, want 200", got)
	}
}

func TestSkip(t *testing.T) { t.Skip("no database here") }

func TestTable(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Fatal("boom") })
}
