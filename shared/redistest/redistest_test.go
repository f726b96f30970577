package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A durable server keeps an acknowledged write across kill -9 and restart,
// on the same address.
func TestDurableServerSurvivesAKill(t *testing.T) {
	s := StartWith(t, Durable...)
	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())

	s.Stop()
	assert.Error(t, Ping(s.Addr), "the server is down")
	require.NoError(t, s.Restart())
	got, err := rdb.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

// Without persistence, the same kill loses the write.
func TestNoPersistenceLosesData(t *testing.T) {
	s := Start(t)
	opt, _ := redis.ParseURL(s.URL())
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, s.Restart())
	assert.ErrorIs(t, rdb.Get(ctx, "k").Err(), redis.Nil)
}
