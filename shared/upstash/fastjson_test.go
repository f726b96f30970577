package upstash

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowArgs is what marshalArgs wrote before its fast path: encoding/json.
func slowArgs(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return buf.Bytes()
}

// slowParse is encoding/json's decoding of an answer, as parseJSON did it
// before its fast path.
func slowParse(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return v, nil
}

var argSeeds = []string{"", "SET", "k", `{"a":"b\"c"}`, "line\nbreak\ttab\r\b\f\x00\x1f\x7f", `back\slash`, "<html>&",
	"héllo wörld ✓ 😀", "\u2028\u2029", "\xff\xfe bad \xc3", "\xe2\x80", "return redis.call('GET', KEYS[1])"}

func FuzzMarshalArgs(f *testing.F) {
	for i, s := range argSeeds {
		f.Add(s, argSeeds[(i+1)%len(argSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		one := []string{"EVALSHA", a, "2", b}
		if got, want := marshalArgs(one), slowArgs(one); !bytes.Equal(got, want) {
			t.Fatalf("marshalArgs(%q) = %s, encoding/json: %s", one, got, want)
		}
		batch := [][]string{one, {b}, {}}
		if got, want := marshalArgs(batch), slowArgs(batch); !bytes.Equal(got, want) {
			t.Fatalf("marshalArgs(%q) = %s, encoding/json: %s", batch, got, want)
		}
	})
}

func TestMarshalArgsAsEncodingJSON(t *testing.T) {
	for _, s := range argSeeds {
		assert.Equal(t, string(slowArgs([]string{s})), string(marshalArgs([]string{s})), "%q", s)
	}
	assert.Equal(t, "[[\"PING\"],[]]\n", string(marshalArgs([][]string{{"PING"}, {}})))
}

var answerSeeds = []string{`{"result":"T0s="}`, `{"result":"OK"}`, `{"result":null}`, `{"result":12}`, `{"result":-0.5e+3}`,
	`{"result":["YQ==",null,["Yg=="],3]}`, `{"error":"WRONGTYPE x"}`, `[{"result":1},{"error":"ERR"}]`, ` { "result" : [ ] } `,
	`{"result":true,"x":false}`, `{"a":1,"a":2}`, `{"result":"\u00e9"}`, `{"result":"é"}`, `{"result":01}`, `{"result":1.}`,
	`{"result":-}`, `{"result":[1,]}`, `{"result":1}x`, `{`, `[] []`, `nul`, `"\t"`, `{"result":"a\"b"}`, `{"result":[[[[]]]]}`}

// FuzzParseFast: whatever the fast parser accepts, encoding/json accepts
// and reads to the same value.
func FuzzParseFast(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseFast(body)
		if !ok {
			return
		}
		want, err := slowParse(body)
		if err != nil {
			t.Fatalf("parseFast accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !assert.ObjectsAreEqual(want, got) {
			t.Fatalf("parseFast(%q) = %#v, encoding/json: %#v", body, got, want)
		}
	})
}

func TestParseFast(t *testing.T) {
	accepted := 0
	for _, s := range answerSeeds {
		got, ok := parseFast([]byte(s))
		want, err := slowParse([]byte(s))
		if ok {
			accepted++
			require.NoError(t, err, s)
			assert.Equal(t, want, got, s)
		}
		// parseJSON answers as encoding/json does, fast or not.
		v, perr := parseJSON([]byte(s))
		assert.Equal(t, err == nil, perr == nil, s)
		if err == nil {
			assert.Equal(t, want, v, s)
		}
	}
	assert.GreaterOrEqual(t, accepted, 10, "the protocol's own shapes take the fast path")
	_, ok := parseFast([]byte(`{"result":"YQ=="}`))
	assert.True(t, ok)
}
