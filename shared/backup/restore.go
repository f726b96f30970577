package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/upstash"
)

// ErrCorrupt is wrapped by every error about the file itself.
var ErrCorrupt = errors.New("backup file is corrupt")

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Force overwrites keys that exist; without it they are kept.
	Force bool
	// DryRun reads and counts, and writes nothing.
	DryRun bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Progress, when set, is told how many keys have been handled.
	Progress func(keys int64)
}

// Summary is what a restore did.
type Summary struct {
	Restored       int64 `json:"restored"`
	SkippedExpired int64 `json:"skipped_expired"`
	SkippedExisted int64 `json:"skipped_existing"`
	Keys           int64 `json:"keys"`
}

func (s Summary) String() string {
	return fmt.Sprintf("%d keys: %d restored, %d skipped as expired, %d skipped as existing",
		s.Keys, s.Restored, s.SkippedExpired, s.SkippedExisted)
}

// reader reads a backup file line by line.
type reader struct {
	br   *bufio.Reader
	line int
}

func newReader(r io.Reader) (*reader, Header, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, Header{}, fmt.Errorf("%w: not gzip: %v", ErrCorrupt, err)
	}
	rd := &reader{br: bufio.NewReaderSize(zr, 64<<10)}
	var h Header
	if err := rd.next(&h); err != nil {
		return nil, Header{}, err
	}
	if h.Format != Format || h.Version != Version {
		return nil, Header{}, fmt.Errorf("%w: header says %q version %d; this reads %q version %d", ErrCorrupt, h.Format, h.Version, Format, Version)
	}
	return rd, h, nil
}

// next decodes the next line into v.
func (r *reader) next(v any) error {
	line, err := r.br.ReadBytes('\n')
	r.line++
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: it ends at line %d without its end record (truncated?)", ErrCorrupt, r.line)
		}
		return fmt.Errorf("%w: line %d: %v", ErrCorrupt, r.line, err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: line %d: %v", ErrCorrupt, r.line, err)
	}
	return nil
}

// record reads the next key, or returns nil and the end record's count at
// the end.
func (r *reader) record() (*Record, int64, error) {
	line, err := r.br.Peek(8)
	if err == nil && bytes.HasPrefix(line, []byte(`{"end"`)) {
		var e End
		if err := r.next(&e); err != nil {
			return nil, 0, err
		}
		if !e.End {
			return nil, 0, fmt.Errorf("%w: line %d: a bad end record", ErrCorrupt, r.line)
		}
		if _, err := r.br.Peek(1); err == nil {
			return nil, 0, fmt.Errorf("%w: data after the end record", ErrCorrupt)
		}
		return nil, e.Keys, nil
	}
	var rec Record
	if err := r.next(&rec); err != nil {
		return nil, 0, err
	}
	if _, err := commands(rec, 0); err != nil {
		return nil, 0, fmt.Errorf("%w: line %d: %v", ErrCorrupt, r.line, err)
	}
	return &rec, 0, nil
}

// Verify reads a whole backup and checks it: gzip, every line, and that the
// end record counts the keys read. It writes nothing.
func Verify(r io.Reader) (Header, int64, error) {
	rd, h, err := newReader(r)
	if err != nil {
		return Header{}, 0, err
	}
	var n int64
	for {
		rec, end, err := rd.record()
		if err != nil {
			return h, n, err
		}
		if rec == nil {
			if end != n {
				return h, n, fmt.Errorf("%w: the end record counts %d keys, the file holds %d", ErrCorrupt, end, n)
			}
			return h, n, nil
		}
		n++
	}
}

// commands returns the commands that recreate rec, with its remaining TTL
// (ms; 0 for none).
func commands(rec Record, ttl int64) ([][]any, error) {
	k := string(rec.Key)
	var cmds [][]any
	switch rec.Type {
	case "string":
		var v Bytes
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return nil, err
		}
		cmds = append(cmds, []any{"SET", k, string(v)})
	case "hash", "zset":
		var ps [][2]Bytes
		if err := json.Unmarshal(rec.Value, &ps); err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return nil, nil
		}
		cmd := []any{"HSET", k}
		for _, p := range ps {
			if rec.Type == "zset" {
				cmd[0] = "ZADD"
				cmd = append(cmd, string(p[1]), string(p[0]))
			} else {
				cmd = append(cmd, string(p[0]), string(p[1]))
			}
		}
		cmds = append(cmds, cmd)
	case "set", "list":
		var ms []Bytes
		if err := json.Unmarshal(rec.Value, &ms); err != nil {
			return nil, err
		}
		if len(ms) == 0 {
			return nil, nil
		}
		cmd := []any{"SADD", k}
		if rec.Type == "list" {
			cmd[0] = "RPUSH"
		}
		for _, m := range ms {
			cmd = append(cmd, string(m))
		}
		cmds = append(cmds, cmd)
	case "stream":
		var es []StreamEntry
		if err := json.Unmarshal(rec.Value, &es); err != nil {
			return nil, err
		}
		for _, e := range es {
			if len(e.Fields)%2 != 0 || len(e.Fields) == 0 {
				return nil, fmt.Errorf("stream entry %s has an odd field list", e.ID)
			}
			cmd := []any{"XADD", k, e.ID}
			for _, f := range e.Fields {
				cmd = append(cmd, string(f))
			}
			cmds = append(cmds, cmd)
		}
	default:
		return nil, fmt.Errorf("unknown type %q", rec.Type)
	}
	if ttl > 0 && len(cmds) > 0 {
		cmds = append(cmds, []any{"PEXPIRE", k, ttl})
	}
	return cmds, nil
}

// binary reports whether a command carries bytes that are not UTF-8, which
// only a single command may send (as its last argument).
func binary(cmd []any) int {
	for i, a := range cmd {
		if s, ok := a.(string); ok && !utf8.ValidString(s) {
			return i
		}
	}
	return -1
}

// batchSize is how many keys one restore round trip checks and writes.
const batchSize = 200

// Restore writes a verified backup back. open must return the backup from
// its start each time it is called: Restore reads it twice, once to verify
// it whole (so a corrupt file writes nothing), once to write.
func Restore(ctx context.Context, c *upstash.Client, open func() (io.ReadCloser, error), opts RestoreOptions) (Summary, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f, err := open()
	if err != nil {
		return Summary{}, err
	}
	h, total, err := Verify(f)
	f.Close()
	if err != nil {
		return Summary{}, err
	}
	created, err := time.Parse(time.RFC3339Nano, h.CreatedAt)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: header created_at %q", ErrCorrupt, h.CreatedAt)
	}
	elapsed := opts.Now().Sub(created).Milliseconds()

	f, err = open()
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	rd, _, err := newReader(f)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	var batch []Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := restoreBatch(ctx, c, batch, elapsed, opts, &sum)
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress(sum.Keys)
		}
		return err
	}
	for {
		rec, _, err := rd.record()
		if err != nil {
			return sum, fmt.Errorf("%w (after %d keys were restored)", err, sum.Restored)
		}
		if rec == nil {
			break
		}
		batch = append(batch, *rec)
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	if sum.Keys != total {
		return sum, fmt.Errorf("%w: read %d keys, verified %d", ErrCorrupt, sum.Keys, total)
	}
	return sum, nil
}

func restoreBatch(ctx context.Context, c *upstash.Client, batch []Record, elapsed int64, opts RestoreOptions, sum *Summary) error {
	exists := make([][]any, len(batch))
	for i, rec := range batch {
		exists[i] = []any{"EXISTS", string(rec.Key)}
	}
	res, err := c.Pipeline(ctx, exists...)
	if err != nil {
		return fmt.Errorf("restore: check keys: %w (after %d keys were restored)", err, sum.Restored)
	}
	var writes [][]any
	var singles [][][]any // the commands of keys holding non-UTF-8 bytes, sent one by one, in order
	for i, rec := range batch {
		sum.Keys++
		ttl := int64(0)
		if rec.TTLms > 0 {
			if ttl = rec.TTLms - elapsed; ttl <= 0 {
				sum.SkippedExpired++
				continue
			}
		}
		if res[i].Value == int64(1) && !opts.Force {
			sum.SkippedExisted++
			continue
		}
		cmds, _ := commands(rec, ttl)
		if res[i].Value == int64(1) {
			cmds = append([][]any{{"DEL", string(rec.Key)}}, cmds...)
		}
		sum.Restored++
		if slices.ContainsFunc(cmds, func(cmd []any) bool { return binary(cmd) >= 0 }) {
			singles = append(singles, cmds)
		} else {
			writes = append(writes, cmds...)
		}
	}
	if opts.DryRun {
		return nil
	}
	out, err := c.Pipeline(ctx, writes...)
	if err == nil {
		for _, r := range out {
			if r.Err != nil && !errors.Is(r.Err, upstash.ErrNil) {
				err = r.Err
				break
			}
		}
	}
	for _, cmds := range singles {
		for _, cmd := range cmds {
			if err != nil {
				break
			}
			if i := binary(cmd); i >= 0 && i != len(cmd)-1 {
				err = fmt.Errorf("key %q holds bytes that only the last argument of a command can carry over REST", cmd[1])
				break
			}
			_, err = c.Do(ctx, cmd...)
		}
	}
	if err != nil {
		return fmt.Errorf("restore: write: %w (this batch of %d keys may be partly written; %d keys before it were restored)",
			err, len(batch), sum.Restored-int64(len(batch)))
	}
	return nil
}
