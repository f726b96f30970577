package storekit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

var (
	merge = storekit.Script(`return json_merge(ARGV[1] ~= '' and ARGV[1] or nil, ARGV[2])`)
	times = storekit.Script(`
local t = ARGV[1]
local s, n = ts_parse(t)
return {ts_format(s, n), ts_add(t, tonumber(ARGV[2]), tonumber(ARGV[3])), ts_after(ARGV[4], t), ts_millis(t)}`)
)

// mergePatch is RFC 7396's MergePatch, as a reference.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

func canonical(t *testing.T, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return string(bytes.TrimSpace(buf.Bytes()))
}

func decode(t *testing.T, s string) any {
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

func TestMergeExamples(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ target, patch, want string }{
		// RFC 7396, appendix A.
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{``, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// Text that looks like structure inside strings, and nulls in arrays.
		{`{"s":"a,\"b\":{}]"}`, `{"t":[null,{"x":null}]}`, `{"s":"a,\"b\":{}]","t":[null,{"x":null}]}`},
		{`{}`, `{}`, `{}`},
	}
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			for _, tc := range cases {
				got, err := upstash.String(merge.Run(ctx, c, nil, tc.target, tc.patch))
				require.NoError(t, err, "%s + %s", tc.target, tc.patch)
				assert.JSONEq(t, tc.want, got, "%s + %s", tc.target, tc.patch)
			}
		})
	}
}

// jsonValue generates JSON values of small depth, with nulls, empty objects
// and arrays, and strings with quotes and braces.
func jsonValue(depth int) *rapid.Generator[any] {
	leaf := rapid.OneOf(
		rapid.Just[any](nil),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.IntRange(-1000, 1000), func(i int) any { return float64(i) }),
		rapid.Map(rapid.SampledFrom([]string{"", "x", `a"b`, "{}", "[", "é", `\`, "a,b:c"}), func(s string) any { return s }),
	)
	if depth == 0 {
		return leaf
	}
	return rapid.OneOf(leaf,
		rapid.Map(rapid.SliceOfN(jsonValue(depth-1), 0, 3), func(s []any) any { return s }),
		rapid.Map(jsonObject(depth-1), func(m map[string]any) any { return m }),
	)
}

func jsonObject(depth int) *rapid.Generator[map[string]any] {
	return rapid.MapOfN(rapid.SampledFrom([]string{"a", "b", "c", `q"k`, "é"}), jsonValue(depth), 0, 4)
}

func TestMergeMatchesRFC7396(t *testing.T) {
	ctx := context.Background()
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			rapid.Check(t, func(rt *rapid.T) {
				target := jsonObject(2).Draw(rt, "target")
				patch := jsonObject(2).Draw(rt, "patch")
				ts, ps := canonical(t, target), canonical(t, patch)
				want := canonical(t, mergePatch(decode(t, ts), decode(t, ps)))
				got, err := upstash.String(merge.Run(ctx, c, nil, ts, ps))
				if err != nil {
					rt.Fatalf("%s + %s: %v", ts, ps, err)
				}
				if canonical(t, decode(t, got)) != want {
					rt.Fatalf("%s + %s = %s, want %s", ts, ps, got, want)
				}
			})
		})
	}
}

func TestTimestamps(t *testing.T) {
	ctx := context.Background()
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			rapid.Check(t, func(rt *rapid.T) {
				at := time.Unix(rapid.Int64Range(0, 221845392000).Draw(rt, "secs"), rapid.Int64Range(0, 999999999).Draw(rt, "ns")).UTC()
				addS := rapid.Int64Range(0, 168*3600).Draw(rt, "add_s")
				addN := rapid.Int64Range(0, 999999999).Draw(rt, "add_ns")
				later := at.Add(time.Duration(rapid.Int64Range(-5, 5).Draw(rt, "skew")))
				ts := jsondoc.FormatTime(at)
				res, err := upstash.Strings(times.Run(ctx, c, nil, ts, addS, addN, jsondoc.FormatTime(later)))
				if err != nil {
					rt.Fatal(err)
				}
				if res[0] != ts {
					rt.Fatalf("format(parse(%s)) = %s", ts, res[0])
				}
				if want := jsondoc.FormatTime(at.Add(time.Duration(addS)*time.Second + time.Duration(addN))); res[1] != want {
					rt.Fatalf("%s + %ds %dns = %s, want %s", ts, addS, addN, res[1], want)
				}
				wantAfter := later
				if !later.After(at) {
					wantAfter = at.Add(time.Nanosecond)
				}
				if res[2] != jsondoc.FormatTime(wantAfter) {
					rt.Fatalf("after(%s, %s) = %s", jsondoc.FormatTime(later), ts, res[2])
				}
				if res[3] != strconv.FormatInt(at.UnixMilli(), 10) {
					rt.Fatalf("millis(%s) = %s, want %d", ts, res[3], at.UnixMilli())
				}
			})
		})
	}
}
