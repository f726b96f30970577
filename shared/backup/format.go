// Package backup writes the store's keys to a streamed, gzipped JSON-lines
// file (to a folder or to S3, multipart), with a manifest beside it, and
// restores such a file through the REST client. Memory stays flat however
// many keys there are: keys are read a SCAN page at a time and written as
// they are read.
package backup

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The file format: a header line, one line per key, and an end line that
// counts the keys, so a truncated file is told from a complete one.
const (
	Format  = "ai-rails-backup"
	Version = 1
)

// Header is the first line.
type Header struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Prefix    string `json:"prefix"`
	CreatedAt string `json:"created_at"`
}

// Record is one key. Value's shape depends on Type:
//
//	string  "v"
//	hash    [["field", "value"], ...]
//	zset    [["member", "score"], ...]
//	set     ["member", ...]
//	list    ["element", ...]
//	stream  [["id", ["field", "value", ...]], ...]
//
// where each string is a JSON string when it is UTF-8, and {"b64": "..."}
// when it is not.
type Record struct {
	Key   Bytes           `json:"k"`
	Type  string          `json:"t"`
	TTLms int64           `json:"ttl_ms"` // -1: no TTL
	Value json.RawMessage `json:"v"`
}

// End is the last line.
type End struct {
	End  bool  `json:"end"`
	Keys int64 `json:"keys"`
}

// Bytes is a binary-safe string in JSON.
type Bytes string

type b64 struct {
	B64 string `json:"b64"`
}

// MarshalJSON writes UTF-8 as a string and anything else as {"b64": ...}.
func (b Bytes) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(b)) {
		return json.Marshal(string(b))
	}
	return json.Marshal(b64{base64.StdEncoding.EncodeToString([]byte(b))})
}

// UnmarshalJSON reads either form.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '{' {
		var v b64
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(v.B64)
		if err != nil {
			return errors.New("bad base64 value")
		}
		*b = Bytes(raw)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*b = Bytes(s)
	return nil
}

// StreamEntry is one entry of a stream.
type StreamEntry struct {
	ID     string
	Fields []Bytes
}

// MarshalJSON writes ["id", [fields...]].
func (e StreamEntry) MarshalJSON() ([]byte, error) { return json.Marshal([]any{e.ID, e.Fields}) }

// UnmarshalJSON reads ["id", [fields...]].
func (e *StreamEntry) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err != nil || len(pair) != 2 {
		return errors.New("a stream entry must be [id, fields]")
	}
	if err := json.Unmarshal(pair[0], &e.ID); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &e.Fields)
}
