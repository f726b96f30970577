package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// A journal or snapshot file is a sequence of records:
//
//	u32 little-endian payload length | u32 CRC-32C of the payload | payload
//
// and a payload is
//
//	u8 kind | varint clock (Unix ms) | uvarint commands | each command:
//	uvarint arguments | each argument: uvarint length | bytes
//
// Every unit of work the store applies is one record, stamped with the time
// its clock read when it ran, so a replay at the same times is the same run.

// kind is a record's kind: a restserver unit, or a file's own bookkeeping.
type kind uint8

const (
	kindSingle    = kind(restserver.Single)
	kindPipelined = kind(restserver.Pipelined)
	kindMultiExec = kind(restserver.MultiExec)
	// kindHeader opens a snapshot: its one command is ["snapshot", gen].
	kindHeader kind = 100
	// kindEnd closes a snapshot: its one command is ["end", keys].
	kindEnd kind = 101
)

// record is one decoded record.
type record struct {
	Kind kind
	At   int64 // Unix ms
	Cmds [][]string
}

const (
	recordHead = 8
	// maxRecord bounds one record: a request to the REST endpoint is at most
	// 10 MB, and a snapshot writes one key per record.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends r's encoding to dst.
func appendRecord(dst []byte, r record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHead)...)
	dst = append(dst, byte(r.Kind))
	dst = binary.AppendVarint(dst, r.At)
	dst = binary.AppendUvarint(dst, uint64(len(r.Cmds)))
	for _, cmd := range r.Cmds {
		dst = binary.AppendUvarint(dst, uint64(len(cmd)))
		for _, a := range cmd {
			dst = binary.AppendUvarint(dst, uint64(len(a)))
			dst = append(dst, a...)
		}
	}
	payload := dst[start+recordHead:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// errTorn is a record cut short, or whose checksum fails: what a crash in
// the middle of an append leaves at the end of a journal.
var errTorn = errors.New("torn record")

// readRecord reads one record from b. It returns the record and the bytes
// it took, io.EOF at the end of b, or errTorn (wrapped) when the record is
// incomplete or damaged.
func readRecord(b []byte) (record, int, error) {
	if len(b) == 0 {
		return record{}, 0, io.EOF
	}
	if len(b) < recordHead {
		return record{}, 0, fmt.Errorf("%w: %d bytes of header", errTorn, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxRecord || uint64(n) > uint64(len(b)-recordHead) {
		return record{}, 0, fmt.Errorf("%w: length %d with %d bytes left", errTorn, n, len(b)-recordHead)
	}
	payload := b[recordHead : recordHead+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return record{}, 0, fmt.Errorf("%w: checksum", errTorn)
	}
	r, err := decodePayload(payload)
	if err != nil {
		// The checksum held, so the writer wrote this: a bug, not a tear.
		return record{}, 0, err
	}
	return r, recordHead + int(n), nil
}

func decodePayload(p []byte) (record, error) {
	d := decoder{b: p}
	r := record{Kind: kind(d.byte())}
	r.At = d.varint()
	ncmds := d.count()
	r.Cmds = make([][]string, 0, ncmds)
	for i := 0; i < ncmds && d.err == nil; i++ {
		nargs := d.count()
		cmd := make([]string, 0, nargs)
		for j := 0; j < nargs && d.err == nil; j++ {
			cmd = append(cmd, d.str())
		}
		r.Cmds = append(r.Cmds, cmd)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return record{}, fmt.Errorf("embedded: malformed record: %w", d.err)
	}
	return r, nil
}

// decoder reads a payload, remembering its first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("short kind")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count, which can be no more than the bytes left: every item
// takes at least one.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("count beyond the record")
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string beyond the record")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
