package backup_test

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/backup"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// peakHeap samples the heap in use until stop is called, and returns the
// largest sample.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkBackup100k backs up 100,000 keys of mixed types (strings of
// JSON, hashes, sorted sets, streams) from a real redis-server, through the
// REST server and client, gzipped, and reports the peak heap of the whole
// process, REST server included.
func BenchmarkBackup100k(b *testing.B) {
	be := upstashtest.Real(b)
	rdb := redis.NewClient(&redis.Options{Addr: be.Redis.Addr})
	defer rdb.Close()
	const n = 100_000
	pipe := rdb.Pipeline()
	for i := range n {
		switch i % 4 {
		case 0:
			pipe.Set(b.Context(), fmt.Sprintf("ai_rails_workflow_W%07d", i),
				fmt.Sprintf(`{"workflow_id":"W%07d","status":"in_progress","feature_description":"benchmark feature %d","metadata":{"pr":%d}}`, i, i, i), time.Hour)
		case 1:
			pipe.HSet(b.Context(), fmt.Sprintf("ai_rails_hash_%07d", i), "a", "1", "b", "two")
		case 2:
			pipe.ZAdd(b.Context(), fmt.Sprintf("ai_rails_index_%07d", i), redis.Z{Score: float64(i), Member: "m1"}, redis.Z{Score: 2, Member: "m2"})
		case 3:
			pipe.XAdd(b.Context(), &redis.XAddArgs{Stream: fmt.Sprintf("ai_rails_history_%07d", i), Values: []string{"type", "created", "version", "1"}})
		}
		if i%5000 == 4999 {
			if _, err := pipe.Exec(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(b.Context()); err != nil {
		b.Fatal(err)
	}
	c := be.Client(b, upstash.Options{Options: restclient.Options{Timeout: 30 * time.Second}})
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		stop := peakHeap()
		m, err := backup.Dump(b.Context(), c, keys.Default(), io.Discard, nil)
		peak := stop()
		if err != nil {
			b.Fatal(err)
		}
		if m.Keys != n {
			b.Fatalf("backed up %d keys, want %d", m.Keys, n)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(m.Bytes)/(1<<20), "gzip-MB")
	}
}
