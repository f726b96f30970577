package upstash_test

import (
	"context"
	"testing"

	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// BenchmarkDo measures one GET through the client and the REST server, over
// each backend, with parallel callers.
func BenchmarkDo(b *testing.B) {
	for _, be := range upstashtest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			c := be.Client(b, upstash.Options{})
			ctx := context.Background()
			if _, err := c.Do(ctx, "SET", "k", `{"workflow_id":"ABC-123456","status":"pending"}`); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Do(ctx, "GET", "k"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkScript measures one EVALSHA of a small write script.
func BenchmarkScript(b *testing.B) {
	be := upstashtest.Real(b)
	c := be.Client(b, upstash.Options{})
	s := upstash.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'EX', 60); return redis.call('INCR', KEYS[2])`)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Run(ctx, c, []string{"k", "n"}, "v"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPipeline100 measures a pipeline of 100 reads.
func BenchmarkPipeline100(b *testing.B) {
	be := upstashtest.Real(b)
	c := be.Client(b, upstash.Options{})
	cmds := make([][]any, 100)
	for i := range cmds {
		cmds[i] = []any{"GET", "k"}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Pipeline(ctx, cmds...); err != nil {
			b.Fatal(err)
		}
	}
}
