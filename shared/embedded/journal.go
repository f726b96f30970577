package embedded

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Fsync is when the journal is forced to disk.
type Fsync string

const (
	// Always fsyncs before any answer goes out (group commit: one fsync
	// covers every write that arrived while the last one ran). A crash or a
	// power cut loses no acknowledged write.
	Always Fsync = "always"
	// EverySec writes each record to the operating system before the
	// answer goes out, and fsyncs once a second. A crash of the process
	// loses nothing; a power cut loses at most about the last second.
	EverySec Fsync = "everysec"
)

// ParseFsync reads LOCAL_FSYNC.
func ParseFsync(s string) (Fsync, error) {
	switch Fsync(s) {
	case Always, EverySec:
		return Fsync(s), nil
	case "":
		return Always, nil
	}
	return "", fmt.Errorf("must be %q or %q, not %q", Always, EverySec, s)
}

// journal appends records to a file. Appends are buffered; one goroutine
// writes them out (and fsyncs, as the policy says), and a waiter learns when
// its record is safe.
type journal struct {
	fsync Fsync

	mu      sync.Mutex
	changed *sync.Cond // signalled when buf grows, or written or synced move
	f       *os.File
	buf     []byte // appended, not yet written
	seq     uint64 // records appended
	written uint64 // records written to the file
	synced  uint64 // records fsynced
	size    int64  // the file's size, with buf
	err     error  // the first write or fsync failure: the journal is then broken
	closed  bool
	done    chan struct{}
}

func newJournal(f *os.File, size int64, fsync Fsync) *journal {
	j := &journal{fsync: fsync, f: f, size: size, done: make(chan struct{})}
	j.changed = sync.NewCond(&j.mu)
	go j.flush()
	if fsync == EverySec {
		go j.tick()
	}
	return j
}

// append adds a record and returns its sequence number.
func (j *journal) append(r record) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return 0, j.err
	}
	if j.closed {
		return 0, errors.New("embedded: journal closed")
	}
	before := len(j.buf)
	j.buf = appendRecord(j.buf, r)
	j.size += int64(len(j.buf) - before)
	j.seq++
	j.changed.Broadcast()
	return j.seq, nil
}

// last is the sequence number of the last record appended.
func (j *journal) last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// wait returns once record seq is safe as the policy defines it: fsynced
// (Always) or written to the operating system (EverySec). Waiting does not
// end with ctx: an answer must not go out before its record is safe.
func (j *journal) wait(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		safe := j.synced
		if j.fsync == EverySec {
			safe = j.written
		}
		switch {
		case safe >= seq:
			return nil
		case j.err != nil:
			return j.err
		}
		j.changed.Wait()
	}
}

// flush writes what is appended, and fsyncs it under Always, until closed.
func (j *journal) flush() {
	defer close(j.done)
	j.mu.Lock()
	for {
		for len(j.buf) == 0 && !j.closed {
			j.changed.Wait()
		}
		if len(j.buf) == 0 && j.closed {
			j.mu.Unlock()
			return
		}
		buf, upto, f := j.buf, j.seq, j.f
		j.buf = nil
		j.mu.Unlock()
		_, err := f.Write(buf)
		if err == nil && j.fsync == Always {
			err = f.Sync()
		}
		j.mu.Lock()
		if err != nil {
			j.fail(fmt.Errorf("embedded: journal write: %w", err))
			continue
		}
		j.written = upto
		if j.fsync == Always {
			j.synced = upto
		}
		j.changed.Broadcast()
	}
}

// fail records the journal's first failure; it is broken from then on.
// Called with mu held.
func (j *journal) fail(err error) {
	if j.err == nil {
		j.err = err
	}
	j.buf = nil
	j.changed.Broadcast()
}

// tick fsyncs once a second under EverySec.
func (j *journal) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-j.done:
			return
		case <-t.C:
			j.syncWritten()
		}
	}
}

// syncWritten fsyncs what has been written.
func (j *journal) syncWritten() {
	j.mu.Lock()
	upto, f := j.written, j.f
	if upto == j.synced || j.err != nil {
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	err := f.Sync()
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.fail(fmt.Errorf("embedded: journal fsync: %w", err))
		return
	}
	if upto > j.synced {
		j.synced = upto
	}
	j.changed.Broadcast()
}

// drain waits until everything appended is written and fsynced.
func (j *journal) drain() error {
	if err := j.wait(j.last()); err != nil {
		return err
	}
	if j.fsync == EverySec {
		j.syncWritten()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// bytes is the journal file's size, counting what is still buffered.
func (j *journal) bytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// close drains the journal and closes its file.
func (j *journal) close() error {
	err := j.drain()
	j.mu.Lock()
	j.closed = true
	j.changed.Broadcast()
	j.mu.Unlock()
	<-j.done
	return errors.Join(err, j.f.Close())
}
