package embedded

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// clock drives the store's time. miniredis keeps its own clock still unless
// told otherwise; with ClockTTL on, each SetTime counts every TTL down by
// the time since the last one, and TIME, EXPIREAT and stream ids follow it.
// The clock reads the wall clock to the millisecond (Redis's own grain,
// which also bounds how often miniredis walks its keys to count TTLs down),
// and never goes backwards, so that a journal replays in order.
type clock struct {
	mini *miniredis.Miniredis
	now  func() time.Time

	mu   sync.Mutex
	last int64 // Unix ms
}

func newClock(m *miniredis.Miniredis, now func() time.Time) *clock {
	c := &clock{mini: m, now: now}
	m.SetTime(time.UnixMilli(0))
	m.ClockTTL(true)
	return c
}

// tick moves the store's time to now, unless it is already later, and
// returns the store's time.
func (c *clock) tick() int64 {
	return c.set(c.now().UnixMilli())
}

// set moves the store's time to ms, unless it is already later, and
// returns the store's time.
func (c *clock) set(ms int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ms > c.last {
		c.last = ms
		c.mini.SetTime(time.UnixMilli(ms))
	}
	return c.last
}
