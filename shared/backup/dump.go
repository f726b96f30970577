package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
)

//go:embed dump.lua
var dumpLua string

// Reading changes nothing, so it may be retried.
var dumpScript = upstash.NewScript(dumpLua).RetrySafe()

// ScanCount is the COUNT hint of each SCAN page.
const ScanCount = 1000

// Manifest describes a written backup; it is stored beside it.
type Manifest struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	Prefix     string `json:"prefix"`
	Keys       int64  `json:"keys"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Location   string `json:"location,omitempty"`
}

// counter counts and hashes what passes through it.
type counter struct {
	w io.Writer
	n int64
	h hash.Hash
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// Dump writes every key under the schema's prefix to w, gzipped, and
// returns the manifest (without its location).
func Dump(ctx context.Context, c *upstash.Client, k keys.Schema, w io.Writer, now func() time.Time) (Manifest, error) {
	if now == nil {
		now = time.Now
	}
	m := Manifest{Format: Format, Version: Version, Prefix: k.Prefix(), StartedAt: jsondoc.FormatTime(now())}
	cw := &counter{w: w, h: sha256.New()}
	zw := gzip.NewWriter(cw)
	bw := bufio.NewWriterSize(zw, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Header{Format: Format, Version: Version, Prefix: k.Prefix(), CreatedAt: m.StartedAt}); err != nil {
		return Manifest{}, err
	}
	cursor := "0"
	for {
		page, err := upstash.Values(c.Do(ctx, "SCAN", cursor, "MATCH", k.Pattern(), "COUNT", ScanCount))
		if err != nil {
			return Manifest{}, fmt.Errorf("backup: scan: %w", err)
		}
		cursor, _ = page[0].(string)
		names, err := upstash.Strings(page[1], nil)
		if err != nil {
			return Manifest{}, fmt.Errorf("backup: scan: %w", err)
		}
		if len(names) > 0 {
			n, err := dumpPage(ctx, c, names, enc)
			if err != nil {
				return Manifest{}, err
			}
			m.Keys += n
		}
		if cursor == "0" {
			break
		}
	}
	if err := enc.Encode(End{End: true, Keys: m.Keys}); err != nil {
		return Manifest{}, err
	}
	if err := bw.Flush(); err != nil {
		return Manifest{}, err
	}
	if err := zw.Close(); err != nil {
		return Manifest{}, err
	}
	m.Bytes, m.SHA256, m.FinishedAt = cw.n, hex.EncodeToString(cw.h.Sum(nil)), jsondoc.FormatTime(now())
	return m, nil
}

func dumpPage(ctx context.Context, c *upstash.Client, names []string, enc *json.Encoder) (int64, error) {
	rows, err := upstash.Values(dumpScript.Run(ctx, c, names))
	if err != nil {
		return 0, fmt.Errorf("backup: read keys: %w", err)
	}
	var n int64
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 4 {
			return n, fmt.Errorf("backup: malformed row %v", row)
		}
		key, _ := f[0].(string)
		typ, _ := f[1].(string)
		ttl, _ := f[2].(int64)
		if typ == "none" || ttl == -2 {
			continue // expired between SCAN and read
		}
		v, err := encodeValue(typ, f[3])
		if err != nil {
			return n, fmt.Errorf("backup: key %q: %w", key, err)
		}
		if err := enc.Encode(Record{Key: Bytes(key), Type: typ, TTLms: ttl, Value: v}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func bytesOf(v any) ([]Bytes, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected an array, got %T", v)
	}
	out := make([]Bytes, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("expected strings, got %T", e)
		}
		out[i] = Bytes(s)
	}
	return out, nil
}

func pairs(flat []Bytes) ([][2]Bytes, error) {
	if len(flat)%2 != 0 {
		return nil, fmt.Errorf("odd number of elements")
	}
	out := make([][2]Bytes, len(flat)/2)
	for i := range out {
		out[i] = [2]Bytes{flat[2*i], flat[2*i+1]}
	}
	return out, nil
}

func encodeValue(typ string, v any) (json.RawMessage, error) {
	var out any
	switch typ {
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string, got %T", v)
		}
		out = Bytes(s)
	case "hash", "zset":
		flat, err := bytesOf(v)
		if err != nil {
			return nil, err
		}
		if out, err = pairs(flat); err != nil {
			return nil, err
		}
	case "set", "list":
		flat, err := bytesOf(v)
		if err != nil {
			return nil, err
		}
		out = flat
	case "stream":
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected stream entries, got %T", v)
		}
		entries := make([]StreamEntry, len(arr))
		for i, e := range arr {
			p, ok := e.([]any)
			if !ok || len(p) != 2 {
				return nil, fmt.Errorf("malformed stream entry")
			}
			id, _ := p[0].(string)
			fields, err := bytesOf(p[1])
			if err != nil {
				return nil, err
			}
			entries[i] = StreamEntry{ID: id, Fields: fields}
		}
		out = entries
	default:
		return nil, fmt.Errorf("type %q is not backed up", typ)
	}
	return json.Marshal(out)
}
