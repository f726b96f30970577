package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// recover replays the snapshot and the journals after it, then compacts
// them into a new snapshot and an empty journal.
func (s *Store) recover(ctx context.Context) error {
	gen, err := s.replaySnapshot(ctx)
	if err != nil {
		return err
	}
	gens, err := s.journals()
	if err != nil {
		return err
	}
	s.gen = gen
	for i, g := range gens {
		if g < gen {
			continue
		}
		if err := s.replayJournal(ctx, g, i == len(gens)-1); err != nil {
			return err
		}
		s.gen = g
	}
	return s.Compact()
}

// replaySnapshot loads the snapshot, if there is one, and returns its
// generation: the journals from that one on come after it.
func (s *Store) replaySnapshot(ctx context.Context) (uint64, error) {
	path := s.snapshotPath()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("embedded: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("embedded: the snapshot %s is damaged (%s); move it aside to start without it", path, why)
	}
	var gen uint64
	ended := false
	for off := 0; ; {
		r, n, err := readRecord(b[off:])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, corrupt(fmt.Sprintf("at byte %d: %v", off, err))
		}
		switch {
		case off == 0:
			if r.Kind != kindHeader || len(r.Cmds) != 1 || len(r.Cmds[0]) != 2 {
				return 0, corrupt("no header")
			}
			if gen, err = strconv.ParseUint(r.Cmds[0][1], 10, 64); err != nil {
				return 0, corrupt("bad generation")
			}
		case ended:
			return 0, corrupt("records after the end")
		case r.Kind == kindEnd:
			ended = true
		default:
			s.Recovered.SnapshotKeys++
			if err := s.apply(ctx, r); err != nil {
				return 0, err
			}
		}
		off += n
	}
	if !ended {
		return 0, corrupt("no end record")
	}
	return gen, nil
}

// journals lists the journals' generations, oldest first.
func (s *Store) journals() ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, "store.*.journal"))
	if err != nil {
		return nil, err
	}
	var gens []uint64
	for _, name := range names {
		g, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "store."), ".journal"), 10, 64)
		if err == nil {
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// replayJournal applies a journal's records at their own times. A record
// torn at the end of the last journal (a crash mid-append) is dropped; any
// other damage stops the start.
func (s *Store) replayJournal(ctx context.Context, gen uint64, last bool) error {
	path := s.journalPath(gen)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	for off := 0; ; {
		r, n, err := readRecord(b[off:])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, errTorn) && last && tornAtEnd(b[off:]) {
			s.Recovered.TornBytes = int64(len(b) - off)
			s.log.Warn("embedded: dropped a torn record at the end of the journal", "path", path, "offset", off, "bytes", len(b)-off)
			return nil
		}
		if err != nil {
			return fmt.Errorf("embedded: the journal %s is damaged at byte %d (%v); move it aside to start without it", path, off, err)
		}
		s.Recovered.JournalRecords++
		if err := s.apply(ctx, r); err != nil {
			return err
		}
		off += n
	}
}

// tornAtEnd reports whether a damaged record reaches the end of the file,
// as one cut short by a crash does, rather than sitting before others.
func tornAtEnd(b []byte) bool {
	if len(b) < recordHead {
		return true
	}
	n := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	return n == 0 || uint64(recordHead)+n >= uint64(len(b))
}

// apply replays one record at its time.
func (s *Store) apply(ctx context.Context, r record) error {
	switch r.Kind {
	case kindSingle, kindPipelined, kindMultiExec:
	default:
		return fmt.Errorf("embedded: unknown record kind %d", r.Kind)
	}
	s.clock.set(r.At)
	u := restserver.Unit{Kind: restserver.Kind(r.Kind), Cmds: r.Cmds}
	s.record(u, r.At) // learns the scripts
	if err := s.rest.Apply(ctx, u); err != nil {
		return fmt.Errorf("embedded: replay: %w", err)
	}
	return nil
}

// Compact writes the store as a new snapshot, starts an empty journal after
// it, and removes the journals before it. Writes wait while it runs.
func (s *Store) Compact() error {
	s.compacting.Lock()
	defer s.compacting.Unlock()
	return s.compact()
}

// compact is Compact, with compacting held.
func (s *Store) compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if s.j != nil {
		if err := s.j.drain(); err != nil {
			return err
		}
	}
	started := time.Now()
	gen := s.gen + 1
	jf, err := os.OpenFile(s.journalPath(gen), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	keys, size, err := s.writeSnapshot(gen)
	if err == nil {
		err = syncDir(s.opts.Dir)
	}
	if err != nil {
		jf.Close()
		os.Remove(s.journalPath(gen))
		return err
	}
	if s.j != nil {
		if err := s.j.close(); err != nil {
			s.log.Warn("embedded: close the old journal", "error", err)
		}
	}
	s.j, s.gen, s.snapLen = newJournal(jf, 0, s.opts.Fsync), gen, size
	olds, _ := s.journals()
	for _, g := range olds {
		if g < gen {
			_ = os.Remove(s.journalPath(g))
		}
	}
	s.log.Debug("embedded: compacted", "keys", keys, "bytes", size, "took", time.Since(started))
	return nil
}

// writeSnapshot writes every key, with its remaining TTL at the store's
// time, to a new snapshot file, and renames it over the last one once it is
// on disk. Called with mu held, so nothing changes while it runs.
func (s *Store) writeSnapshot(gen uint64) (keys, size int64, err error) {
	at := s.clock.tick()
	tmp := s.snapshotPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("embedded: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	buf := appendRecord(nil, record{Kind: kindHeader, At: at, Cmds: [][]string{{"snapshot", strconv.FormatUint(gen, 10)}}})
	for _, k := range s.mini.Keys() {
		cmds, err := s.keyCommands(k)
		if err != nil {
			return 0, 0, err
		}
		if len(cmds) == 0 {
			continue
		}
		buf = appendRecord(buf, record{Kind: kindPipelined, At: at, Cmds: cmds})
		keys++
		if len(buf) > 1<<20 {
			if _, err = f.Write(buf); err != nil {
				return 0, 0, err
			}
			size += int64(len(buf))
			buf = buf[:0]
		}
	}
	buf = appendRecord(buf, record{Kind: kindEnd, At: at, Cmds: [][]string{{"end", strconv.FormatInt(keys, 10)}}})
	if _, err = f.Write(buf); err != nil {
		return 0, 0, err
	}
	size += int64(len(buf))
	if err = f.Sync(); err != nil {
		return 0, 0, err
	}
	if err = f.Close(); err != nil {
		return 0, 0, err
	}
	if err = os.Rename(tmp, s.snapshotPath()); err != nil {
		return 0, 0, err
	}
	return keys, size, nil
}

// keyCommands returns the commands that recreate key k, with its TTL.
func (s *Store) keyCommands(k string) ([][]string, error) {
	m := s.mini
	var cmds [][]string
	switch typ := m.Type(k); typ {
	case "string":
		v, err := m.Get(k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, []string{"SET", k, v})
	case "hash":
		fields, err := m.HKeys(k)
		if err != nil {
			return nil, err
		}
		cmd := []string{"HSET", k}
		for _, f := range fields {
			cmd = append(cmd, f, m.HGet(k, f))
		}
		cmds = append(cmds, cmd)
	case "list":
		vs, err := m.List(k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, append([]string{"RPUSH", k}, vs...))
	case "set":
		vs, err := m.Members(k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, append([]string{"SADD", k}, vs...))
	case "zset":
		ms, err := m.SortedSet(k)
		if err != nil {
			return nil, err
		}
		cmd := []string{"ZADD", k}
		for _, member := range slices.Sorted(maps.Keys(ms)) {
			cmd = append(cmd, strconv.FormatFloat(ms[member], 'g', -1, 64), member)
		}
		cmds = append(cmds, cmd)
	case "stream":
		es, err := m.Stream(k)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			cmds = append(cmds, append([]string{"XADD", k, e.ID}, e.Values...))
		}
	default:
		// miniredis keeps HyperLogLogs opaque; nothing here writes them.
		s.log.Warn("embedded: a key of this type is not kept in snapshots", "key", k, "type", typ)
		return nil, nil
	}
	if ttl := m.TTL(k); ttl > 0 && len(cmds) > 0 {
		ms := max(ttl.Milliseconds(), 1)
		cmds = append(cmds, []string{"PEXPIRE", k, strconv.FormatInt(ms, 10)})
	}
	return cmds, nil
}

// syncDir fsyncs a directory, so that a rename in it is on disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
