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
local A = named_args()
local prev = A.prev
if A.text == '1' then prev = '"' .. A.prev_text .. '"' end
return {ns_after(A.now, prev, A.now_text) or false, ns_millis(A.now)}`)
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

// Times are integer nanoseconds in the scripts: ns_after keeps stored times
// rising whatever the clock says, ns_millis makes sorted-set scores, and a
// time stored as text (before times were integers) is compared as text,
// with nil asking for a later now.
func TestTimestamps(t *testing.T) {
	ctx := context.Background()
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			rapid.Check(t, func(rt *rapid.T) {
				// 2001 to 2261: nanoseconds since the epoch have 19 digits and fit an int64.
				prev := time.Unix(rapid.Int64Range(1_000_000_000, 9_200_000_000).Draw(rt, "secs"), rapid.Int64Range(0, 999_999_999).Draw(rt, "ns")).UTC()
				if rapid.Bool().Draw(rt, "end of a second") {
					prev = prev.Truncate(time.Second).Add(time.Second - time.Nanosecond)
				}
				now := prev.Add(time.Duration(rapid.Int64Range(-5, 5).Draw(rt, "skew")))
				text := rapid.Bool().Draw(rt, "stored as text")
				flag := "0"
				if text {
					flag = "1"
				}
				v, err := upstash.Values(times.Run(ctx, c, nil, storekit.Args{"now", jsondoc.Nanos(now), "now_text", jsondoc.FormatTime(now),
					"prev", jsondoc.Nanos(prev), "prev_text", jsondoc.FormatTime(prev), "text", flag}...))
				if err != nil {
					rt.Fatal(err)
				}
				after, _ := v[0].(string)
				switch {
				case text && now.After(prev) && after != jsondoc.Nanos(now):
					rt.Fatalf("after text %s: %q, want now", jsondoc.FormatTime(prev), after)
				case text && !now.After(prev) && v[0] != nil:
					rt.Fatalf("after text %s at %s: %v, want nil", jsondoc.FormatTime(prev), jsondoc.FormatTime(now), v[0])
				case !text:
					want := now
					if !now.After(prev) {
						want = prev.Add(time.Nanosecond)
					}
					if after != jsondoc.Nanos(want) {
						rt.Fatalf("after(%s, %s) = %s, want %s", jsondoc.Nanos(now), jsondoc.Nanos(prev), after, jsondoc.Nanos(want))
					}
				}
				if got, _ := v[1].(string); got != strconv.FormatInt(now.UnixMilli(), 10) {
					rt.Fatalf("millis(%s) = %s, want %d", jsondoc.Nanos(now), got, now.UnixMilli())
				}
			})
		})
	}
}

// ScriptWith's constants read as sent arguments, a sent one wins, and a
// constant that would not sit plainly in Lua source is refused.
func TestScriptWith(t *testing.T) {
	c := upstashtest.Mini(t).Client(t, upstash.Options{})
	sc := storekit.ScriptWith(`local A = named_args() return A.a .. '|' .. A.b .. '|' .. A.c`, func() storekit.Args { return storekit.Args{"a", "fixed", "b", 42} })
	got, err := upstash.String(sc.Run(context.Background(), c, nil, "c", "sent"))
	require.NoError(t, err)
	assert.Equal(t, "fixed|42|sent", got)
	got, err = upstash.String(sc.Run(context.Background(), c, nil, "a", "over", "c", "x"))
	require.NoError(t, err)
	assert.Equal(t, "over|42|x", got)
	assert.Panics(t, func() {
		storekit.ScriptWith("return 1", func() storekit.Args { return storekit.Args{"a", "it's"} }).Source()
	})
}
