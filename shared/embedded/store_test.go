package embedded

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
)

const token = "embedded-test-token"

// fakeClock is a wall clock a test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// running is an open store with a client of its REST endpoint.
type running struct {
	*Store
	c   *upstash.Client
	hs  *httptest.Server
	dir string
}

func open(t *testing.T, dir string, opts Options) *running {
	t.Helper()
	opts.Dir, opts.Token = dir, token
	s, err := Open(context.Background(), opts)
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: hs.URL, Token: token}})
	require.NoError(t, err)
	r := &running{Store: s, c: c, hs: hs, dir: dir}
	t.Cleanup(func() { r.crash() })
	return r
}

// crash stops the store the way kill -9 would: no compaction, no flush
// beyond what the fsync policy already did.
func (r *running) crash() {
	r.hs.CloseClientConnections()
	r.hs.Close()
	r.mu.Lock()
	if r.broken == nil {
		r.broken = os.ErrClosed
	}
	r.mu.Unlock()
	r.mini.Close()
}

func (r *running) do(t *testing.T, args ...any) any {
	t.Helper()
	v, err := r.c.Do(context.Background(), args...)
	if err == upstash.ErrNil {
		return nil
	}
	require.NoError(t, err, "%v", args)
	return v
}

func TestTTLsRunOutOnTheWallClock(t *testing.T) {
	r := open(t, t.TempDir(), Options{})
	r.do(t, "SET", "k", "v", "PX", 200)
	r.do(t, "SET", "long", "v", "EX", 100)
	first := r.do(t, "PTTL", "long").(int64)
	time.Sleep(300 * time.Millisecond)
	assert.Nil(t, r.do(t, "GET", "k"), "a key set with PX 200 is gone 300 ms later")
	later := r.do(t, "PTTL", "long").(int64)
	assert.Less(t, later, first-250, "PTTL counts down")
	assert.Greater(t, later, int64(99_000))
}

func TestTimeIsAbsoluteAcrossRestarts(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean", false: "crash"}[clean]
		t.Run(name, func(t *testing.T) {
			dir, clk := t.TempDir(), newFakeClock()
			r := open(t, dir, Options{Now: clk.Now})
			r.do(t, "SET", "ten", "v", "EX", 10)
			r.do(t, "SET", "forever", "v")
			r.do(t, "HSET", "h", "f", "1")
			r.do(t, "PEXPIRE", "h", 20_000)
			clk.Advance(2 * time.Second)
			r.do(t, "SET", "eight", "v", "EX", 8) // due at the same time as "ten"
			if clean {
				require.NoError(t, r.Close())
			} else {
				r.crash()
			}

			clk.Advance(5 * time.Second) // 7 s after "ten" was set
			r = open(t, dir, Options{Now: clk.Now})
			assert.Equal(t, int64(3000), r.do(t, "PTTL", "ten"), "a key due in 10 s is not given its full TTL again")
			assert.Equal(t, int64(3000), r.do(t, "PTTL", "eight"))
			assert.Equal(t, int64(13000), r.do(t, "PTTL", "h"))
			assert.Equal(t, int64(-1), r.do(t, "PTTL", "forever"))
			clk.Advance(3 * time.Second)
			assert.Nil(t, r.do(t, "GET", "ten"), "it runs out on time after the restart")
			assert.Nil(t, r.do(t, "GET", "eight"))
			assert.Equal(t, "v", r.do(t, "GET", "forever"))
		})
	}
}

func TestAcknowledgedWritesSurviveACrash(t *testing.T) {
	for _, fsync := range []Fsync{Always, EverySec} {
		t.Run(string(fsync), func(t *testing.T) {
			dir := t.TempDir()
			r := open(t, dir, Options{Fsync: fsync})
			script := upstash.NewScript(`redis.call('INCR', KEYS[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])`)
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						_, err := script.Run(context.Background(), r.c, []string{"count", "list"}, w*1000+i)
						assert.NoError(t, err)
					}
				}()
			}
			wg.Wait()
			_, err := r.c.MultiExec(context.Background(), []any{"SET", "a", "1"}, []any{"ZADD", "z", "1.5", "m"})
			require.NoError(t, err)
			r.do(t, "DEL", "a")
			r.crash()

			r = open(t, dir, Options{Fsync: fsync})
			assert.Equal(t, "400", r.do(t, "GET", "count"))
			assert.Equal(t, int64(400), r.do(t, "LLEN", "list"))
			assert.Nil(t, r.do(t, "GET", "a"))
			assert.Equal(t, "1.5", r.do(t, "ZSCORE", "z", "m"))
			assert.EqualValues(t, 400+2, r.Recovered.JournalRecords, "the scripts (EVAL, then EVALSHA as EVAL), the transaction and the DEL")
		})
	}
}

func TestSnapshotKeepsEveryType(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	bin := string([]byte{0, 0xff, 0xfe, 'x'})
	r.do(t, "SET", "s", "v")
	r.do(t, "SETBIT", "bits", 7, 1)
	r.do(t, "APPEND", "bin", bin[:2])
	r.do(t, "HSET", "h", "a", "1", "b", "2")
	r.do(t, "RPUSH", "l", "x", "y", "x")
	r.do(t, "SADD", "set", "p", "q")
	r.do(t, "ZADD", "z", "1e300", "big", "-0.25", "neg", "+inf", "top")
	r.do(t, "XADD", "st", "1-1", "f", "v")
	r.do(t, "XADD", "st", "2-5", "g", "w")
	r.do(t, "EXPIRE", "l", 100)
	before := dumpAll(t, r)
	require.NoError(t, r.Close())

	r = open(t, dir, Options{})
	assert.Equal(t, before, dumpAll(t, r))
	assert.EqualValues(t, 8, r.Recovered.SnapshotKeys)
	assert.Zero(t, r.Recovered.JournalRecords)
}

// dumpAll reads every key's type and value through the REST endpoint.
func dumpAll(t *testing.T, r *running) map[string]any {
	t.Helper()
	out := map[string]any{}
	keys, err := upstash.Strings(r.c.Do(context.Background(), "KEYS", "*"))
	require.NoError(t, err)
	for _, k := range keys {
		typ := r.do(t, "TYPE", k).(string)
		var v any
		switch typ {
		case "string":
			v = r.do(t, "GET", k)
		case "hash":
			v = r.do(t, "HGETALL", k)
		case "list":
			v = r.do(t, "LRANGE", k, 0, -1)
		case "set":
			v = r.do(t, "SMEMBERS", k)
		case "zset":
			v = r.do(t, "ZRANGE", k, 0, -1, "WITHSCORES")
		case "stream":
			v = r.do(t, "XRANGE", k, "-", "+")
		}
		out[k] = []any{typ, v, r.do(t, "TTL", k)}
	}
	return out
}

func TestATornLastRecordIsDropped(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	r.do(t, "SET", "kept", "1")
	path := r.journalPath(r.gen)
	r.crash()

	good, err := os.ReadFile(path)
	require.NoError(t, err)
	torn := appendRecord(nil, record{Kind: kindSingle, At: 1, Cmds: [][]string{{"SET", "torn", "2"}}})
	for _, cut := range []int{3, recordHead, len(torn) - 1} {
		require.NoError(t, os.WriteFile(path, append(append([]byte{}, good...), torn[:cut]...), 0o600))
		r = open(t, dir, Options{})
		assert.Equal(t, "1", r.do(t, "GET", "kept"))
		assert.Nil(t, r.do(t, "GET", "torn"))
		assert.EqualValues(t, cut, r.Recovered.TornBytes)
		path = r.journalPath(r.gen)
		good, err = os.ReadFile(path)
		require.NoError(t, err)
		r.crash()
	}
}

func TestDamageBeforeTheEndStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	r.do(t, "SET", "a", "1")
	r.do(t, "SET", "b", "2")
	path := r.journalPath(r.gen)
	r.crash()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[recordHead+3] ^= 0xff // inside the first record's payload
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, err = Open(context.Background(), Options{Dir: dir, Token: token})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "damaged")
}

func TestCompactionKeepsTheJournalSmall(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{CompactBytes: 4096})
	for i := range 300 {
		r.do(t, "SET", "k", i, "EX", 3600)
	}
	require.Eventually(t, func() bool { return r.j.bytes() < 4096 }, 5*time.Second, 10*time.Millisecond)
	gens, err := r.journals()
	require.NoError(t, err)
	assert.Len(t, gens, 1, "older journals are removed")
	r.crash()
	r = open(t, dir, Options{})
	assert.Equal(t, "299", r.do(t, "GET", "k"))
	assert.Greater(t, r.do(t, "TTL", "k").(int64), int64(3590))
}

func TestABrokenJournalRefusesWrites(t *testing.T) {
	r := open(t, t.TempDir(), Options{})
	r.do(t, "SET", "a", "1")
	r.j.f.Close() // the next write to the file fails
	_, err := r.c.Do(context.Background(), "SET", "b", "2")
	require.Error(t, err)
	_, err = r.c.Do(context.Background(), "SET", "c", "3")
	require.Error(t, err, "writes stay refused")
	v, err := r.Redis().Get(context.Background(), "a").Result()
	require.NoError(t, err)
	assert.Equal(t, "1", v, "the store still reads")
}

// Nothing but the REST server reaches miniredis: a write that came another
// way would miss the journal.
func TestOnlyTheRESTServerReachesTheStore(t *testing.T) {
	r := open(t, t.TempDir(), Options{})
	c, err := net.Dial("tcp", r.mini.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, "NOAUTH")
	assert.Nil(t, r.do(t, "GET", "k"))
}

func TestParseFsync(t *testing.T) {
	for in, want := range map[string]Fsync{"": Always, "always": Always, "everysec": EverySec} {
		got, err := ParseFsync(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseFsync("no")
	assert.Error(t, err)
}

// Under everysec, what was written reaches the disk within about a second.
func TestEverySecFsyncsWithinASecond(t *testing.T) {
	r := open(t, t.TempDir(), Options{Fsync: EverySec})
	r.do(t, "SET", "k", "v")
	require.Eventually(t, func() bool {
		r.j.mu.Lock()
		defer r.j.mu.Unlock()
		return r.j.synced == r.j.written && r.j.written > 0
	}, 3*time.Second, 50*time.Millisecond)
}

// Scripts loaded with SCRIPT LOAD and run with EVALSHA replay; after SCRIPT
// FLUSH, EVALSHA fails as on Redis, and replays the same way.
func TestScriptsReplay(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	sha := r.do(t, "SCRIPT", "LOAD", "return redis.call('INCRBY', KEYS[1], ARGV[1])").(string)
	r.do(t, "EVALSHA", sha, 1, "n", 5)
	r.do(t, "EVALSHA", sha, 1, "n", 2)
	r.do(t, "SCRIPT", "FLUSH")
	_, err := r.c.Do(context.Background(), "EVALSHA", sha, 1, "n", 100)
	require.Error(t, err)
	r.crash()
	r = open(t, dir, Options{})
	assert.Equal(t, "7", r.do(t, "GET", "n"))
}

func TestADamagedSnapshotStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	r.do(t, "SET", "a", "1")
	require.NoError(t, r.Close())
	path := r.snapshotPath()
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	// The snapshot's records, whole.
	var recs [][]byte
	for off := 0; off < len(good); {
		_, n, err := readRecord(good[off:])
		require.NoError(t, err)
		recs, off = append(recs, good[off:off+n]), off+n
	}
	require.Len(t, recs, 3, "header, one key, end")
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, c := range map[string]struct {
		b   []byte
		why string
	}{
		"cut":            {good[:len(good)-3], "at byte"},
		"no end":         {join(recs[0], recs[1]), "no end record"},
		"no header":      {join(recs[1], recs[2]), "no header"},
		"bad generation": {join(appendRecord(nil, record{Kind: kindHeader, Cmds: [][]string{{"snapshot", "x"}}}), recs[1], recs[2]), "bad generation"},
		"after end":      {join(good, appendRecord(nil, record{Kind: kindSingle, Cmds: [][]string{{"SET", "b", "2"}}})), "records after the end"},
	} {
		require.NoError(t, os.WriteFile(path, c.b, 0o600))
		_, err := Open(context.Background(), Options{Dir: dir, Token: token})
		assert.ErrorContains(t, err, "the snapshot "+path+" is damaged ("+c.why, name)
	}
}

// A journal older than the snapshot (left when a crash came between writing
// a snapshot and removing the journal it replaced) holds writes the
// snapshot already has: it is not replayed again.
func TestAnOlderJournalIsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	r.do(t, "RPUSH", "l", "x")
	require.NoError(t, r.Close())
	stale := appendRecord(nil, record{Kind: kindSingle, At: 1, Cmds: [][]string{{"RPUSH", "l", "x"}}})
	require.NoError(t, os.WriteFile(r.journalPath(0), stale, 0o600))
	r2 := open(t, dir, Options{})
	assert.Equal(t, int64(1), r2.do(t, "LLEN", "l"))
	assert.Zero(t, r2.Recovered.JournalRecords)
}

// A snapshot larger than the write buffer is written in pieces and reads
// back whole.
func TestALargeSnapshot(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, Options{})
	big := strings.Repeat("v", 64<<10)
	for i := range 40 { // 2.5 MiB
		r.do(t, "SET", fmt.Sprintf("k%02d", i), big)
	}
	require.NoError(t, r.Close())
	r2 := open(t, dir, Options{})
	assert.Equal(t, int64(40), r2.Recovered.SnapshotKeys)
	assert.Equal(t, big, r2.do(t, "GET", "k39"))
}

// A record whose checksum holds but whose payload does not decode is a bug,
// not a tear: it is reported, not dropped.
func TestMalformedPayloads(t *testing.T) {
	for name, payload := range map[string][]byte{
		"no kind":        {},
		"bad varint":     {1, 0x80},
		"count too big":  {1, 2, 50},
		"string too big": {1, 2, 1, 1, 9, 'a'},
		"trailing":       {1, 2, 0, 7},
	} {
		_, err := decodePayload(payload)
		assert.Error(t, err, name)
	}
}

// A store needs a folder it can make.
func TestOpenNeedsAFolder(t *testing.T) {
	_, err := Open(context.Background(), Options{Token: token})
	assert.ErrorContains(t, err, "Dir is required")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = Open(context.Background(), Options{Dir: filepath.Join(file, "data"), Token: token})
	assert.ErrorContains(t, err, "not a directory")
}
